/**
 * Reads a gzip layer as raw tar headers, so two layers can be compared header by header: the PAX
 * records and the name of the PAX header entry, the ustar name/prefix split, every numeric field as
 * written, owner names, link targets and each file's content hash. tar-stream and other readers merge
 * PAX records into one parsed header and hide exactly what this comparison must see, so the 512-byte
 * blocks are read here.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';

export interface RawEntry {
  /** The path after PAX and prefix are applied. */
  path: string;
  typeflag: string;
  /** Fields as written (NUL-trimmed): mode, uid, gid, size, uname, gname, linkname, magic, version, devmajor, devminor. */
  fields: Record<string, string>;
  /** The ustar name and prefix fields. */
  name: string;
  prefix: string;
  /** PAX records of the entry (mtime, atime and ctime among them: the comparison sets those aside). */
  pax: Record<string, string>;
  /** The name field of the PAX header entry, when there is one. */
  paxHeaderName?: string;
  sha256?: string;
}

const FIELDS: Array<[string, number, number]> = [
  ['mode', 100, 8], ['uid', 108, 8], ['gid', 116, 8], ['size', 124, 12], ['mtime', 136, 12], ['linkname', 157, 100],
  ['magic', 257, 6], ['version', 263, 2], ['uname', 265, 32], ['gname', 297, 32], ['devmajor', 329, 8], ['devminor', 337, 8],
];

const text = (b: Buffer, at: number, len: number): string => b.subarray(at, at + len).toString('utf8').replace(/\0+$/, '');
const octal = (s: string): number => parseInt(s.trim() || '0', 8);

export async function readLayer(path: string): Promise<RawEntry[]> {
  return parseTar(gunzipSync(await readFile(path)));
}

export function parseTar(tar: Buffer): RawEntry[] {
  const out: RawEntry[] = [];
  let pax: Record<string, string> = {};
  let paxHeaderName: string | undefined;
  for (let at = 0; at + 512 <= tar.length;) {
    const h = tar.subarray(at, at + 512);
    if (h.every((x) => x === 0)) break;
    const fields = Object.fromEntries(FIELDS.map(([k, o, l]) => [k, text(h, o, l)]));
    const typeflag = String.fromCharCode(h[156]!) === '\0' ? '0' : String.fromCharCode(h[156]!);
    const size = octal(fields.size!);
    const body = tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    if (typeflag === 'x') { pax = parsePax(body); paxHeaderName = text(h, 0, 100); continue; }
    const name = text(h, 0, 100);
    const prefix = text(h, 345, 155);
    const entry: RawEntry = { path: pax.path ?? (prefix ? `${prefix}/${name}` : name), typeflag, fields, name, prefix, pax,
      ...(paxHeaderName !== undefined ? { paxHeaderName } : {}), ...(typeflag === '0' ? { sha256: createHash('sha256').update(body).digest('hex') } : {}) };
    delete entry.fields.mtime;
    out.push(entry);
    pax = {};
    paxHeaderName = undefined;
  }
  return out;
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (let at = 0; at < body.length;) {
    const space = body.indexOf(0x20, at);
    if (space < 0) break;
    const len = Number(body.subarray(at, space).toString('ascii'));
    if (!len) break;
    const record = body.subarray(space + 1, at + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}
