/**
 * Tar headers as Go's archive/tar writes them (the writer behind BuildKit's and dockerd's layers): a
 * USTAR header when the entry fits, the name split into prefix and name when an ASCII path is over 100
 * bytes and splits; else a PAX extended header named `<dir>/PaxHeaders.0/<file>` with the `path` (and
 * `linkpath`) records, followed by a header whose name is the path with non-ASCII characters dropped,
 * cut to 100 bytes. Numbers are zero-padded octal, NUL-terminated; owner names are empty.
 *
 * tar-stream names its PAX headers otherwise and has no switch for it, so the 512-byte blocks are
 * written here; its reader still reads them.
 */
import { posix } from 'node:path';

export interface TarHeader {
  name: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname: string;
  /** Seconds since the epoch. */
  mtime: number;
}

const BLOCK = 512;
const NAME = 100;
const PREFIX = 155;
/** The largest uid or gid a ustar header holds (7 octal digits). */
export const MAX_USTAR_ID = 0o7777777;
const MAX_SIZE = 0o77777777777;
const TYPEFLAG = { file: '0', dir: '5', symlink: '2' } as const;

/** The blocks that come before an entry's content: a PAX header when one is needed, then the entry's header. */
export function headerBlocks(h: TarHeader): Buffer {
  if (h.uid > MAX_USTAR_ID || h.gid > MAX_USTAR_ID || h.size > MAX_SIZE) throw new Error(`${h.name}: an owner id over ${MAX_USTAR_ID} or a size over ${MAX_SIZE} bytes needs PAX records this writer does not make`);
  const pax = paxRecords(h);
  if (Object.keys(pax).length === 0) {
    const split = splitUstar(h.name);
    return block({ ...h, name: split?.name ?? h.name, prefix: split?.prefix ?? '' });
  }
  const data = Buffer.from(Object.keys(pax).sort().map((k) => paxRecord(k, pax[k]!)).join(''), 'utf8');
  const { dir, file } = splitPath(h.name);
  const paxName = toAscii(posix.join(dir, 'PaxHeaders.0', file)).slice(0, NAME).replace(/\/+$/, '');
  const paxHeader = block({ name: paxName, prefix: '', typeflag: 'x', mode: 0, uid: 0, gid: 0, size: data.length, linkname: '', mtime: 0, raw: true });
  const main = block({ ...h, name: field(toAscii(h.name)), prefix: '', linkname: field(toAscii(h.linkname)) });
  return Buffer.concat([paxHeader, padded(data), main]);
}

/** Zero bytes that fill a content of `size` bytes up to a whole block. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end of an archive: two zero blocks. */
export const END = Buffer.alloc(2 * BLOCK);

function paxRecords(h: TarHeader): Record<string, string> {
  const out: Record<string, string> = {};
  if ((!isAscii(h.name) || h.name.length > NAME) && !splitUstar(h.name)) out.path = h.name;
  if (!isAscii(h.linkname) || h.linkname.length > NAME) out.linkpath = h.linkname;
  return out;
}

/** "%d key=value\n", the length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const size = Buffer.byteLength(body);
  let n = size + String(size).length;
  if (String(n).length + size !== n) n = size + String(n).length;
  return `${n}${body}`;
}

/** Go's splitUSTARPath. */
function splitUstar(name: string): { prefix: string; name: string } | undefined {
  if (name.length <= NAME || !isAscii(name)) return undefined;
  let length = name.length;
  if (length > PREFIX + 1) length = PREFIX + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.lastIndexOf('/', length - 1);
  const suffix = name.length - i - 1;
  if (i <= 0 || suffix > NAME || suffix === 0 || i > PREFIX) return undefined;
  return { prefix: name.slice(0, i), name: name.slice(i + 1) };
}

/** Go's path.Split: everything up to the last "/", and the rest. */
function splitPath(name: string): { dir: string; file: string } {
  const at = name.lastIndexOf('/');
  return { dir: name.slice(0, at + 1), file: name.slice(at + 1) };
}

/** Go's formatString into a 100-byte field: cut to fit, and a cut that ends in "/" loses its trailing slashes. */
function field(s: string): string {
  if (s.length <= NAME) return s;
  return s.slice(0, NAME).replace(/\/+$/, '');
}

const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s);
const toAscii = (s: string): string => s.replace(/[^\x00-\x7f]/g, '');

interface Fields {
  name: string; prefix: string; typeflag?: string; type?: TarHeader['type']; mode: number; uid: number; gid: number; size: number; linkname: string; mtime: number;
  /** A PAX header: Go writes it without the device numbers. */
  raw?: boolean;
}

function block(f: Fields): Buffer {
  const b = Buffer.alloc(BLOCK);
  const put = (at: number, len: number, s: string) => { Buffer.from(s, 'utf8').copy(b, at, 0, len); };
  const octal = (at: number, len: number, n: number) => put(at, len, n.toString(8).padStart(len - 1, '0'));
  put(0, NAME, f.name);
  octal(100, 8, f.mode);
  octal(108, 8, f.uid);
  octal(116, 8, f.gid);
  octal(124, 12, f.size);
  octal(136, 12, f.mtime);
  put(156, 1, f.typeflag ?? TYPEFLAG[f.type!]);
  put(157, NAME, f.linkname);
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  if (!f.raw) { octal(329, 8, 0); octal(337, 8, 0); }
  put(345, PREFIX, f.prefix);
  b.fill(0x20, 148, 156);
  const sum = b.reduce((a, x) => a + x, 0);
  put(148, 7, sum.toString(8).padStart(6, '0'));
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

function padded(data: Buffer): Buffer {
  return Buffer.concat([data, padding(data.length)]);
}
