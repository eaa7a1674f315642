/**
 * One layer from a step's changes: a tar (tar-stream: ustar, pax headers where a name or link needs one)
 * with entries in the given order, every mtime the fixed time, no user or group names, then gzip
 * (node:zlib, level 6, no name, mtime 0, OS byte fixed to Unix so the bytes do not depend on the host's
 * zlib build). The blob is written to the cache as `<digest>.tar.gz`; the same changes give the same bytes.
 * So a layer whose every file's content hash is known is recorded under a hash of its entries
 * (`<cacheDir>/layers/by-entries/`), and written again only when that record or its blob is missing:
 * re-assembling onto a new base costs no compression.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import type { LayerBlob } from '../buildkit/export.ts';
import { MEDIA } from '../registry/media-types.ts';
import type { FsNode } from './tree.ts';

export interface WrittenLayer { blob: LayerBlob; diffId: string }

const GZIP_OS_BYTE = 9;
const OS_UNIX = 3;

export async function writeLayer(entries: Array<[string, FsNode]>, mtime: Date, cacheDir: string): Promise<WrittenLayer> {
  const key = entriesKey(entries, mtime);
  const record = key ? join(cacheDir, 'layers', 'by-entries', `${key}.json`) : undefined;
  const known = record ? await recorded(record) : undefined;
  if (known) return known;
  const written = await compress(entries, mtime, cacheDir);
  if (record) await remember(record, written);
  return written;
}

/** A hash of everything that goes into the layer's bytes; undefined when a file's content hash is not known. */
function entriesKey(entries: Array<[string, FsNode]>, mtime: Date): string | undefined {
  if (entries.some(([, n]) => n.type === 'file' && !n.sha256)) return undefined;
  const described = entries.map(([path, n]) => [path, n.type, n.mode, n.uid, n.gid, n.linkname ?? '', n.sha256 ?? '']);
  return createHash('sha256').update(JSON.stringify({ v: 1, mtime: mtime.getTime(), entries: described })).digest('hex');
}

async function recorded(record: string): Promise<WrittenLayer | undefined> {
  const text = await readFile(record, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const layer = JSON.parse(text) as WrittenLayer;
  const size = await stat(layer.blob.path!).then((s) => s.size, () => -1);
  return size === layer.blob.size ? layer : undefined;
}

async function remember(record: string, layer: WrittenLayer): Promise<void> {
  await mkdir(join(record, '..'), { recursive: true });
  const tmp = `${record}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, JSON.stringify(layer));
  await rename(tmp, record);
}

async function compress(entries: Array<[string, FsNode]>, mtime: Date, cacheDir: string): Promise<WrittenLayer> {
  const dir = join(cacheDir, 'layers');
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `assemble-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  let size = 0;
  const tar = pack();
  const tarred = tar.pipe(new PassThrough()).on('data', (c: Buffer) => diff.update(c));
  const writing = pipeline(tarred, createGzip({ level: 6 }), new FixOsByte(), tap((c) => { blob.update(c); size += c.length; }), createWriteStream(tmp));
  try {
    for (const [path, node] of entries) await addEntry(tar, path, node, mtime);
    tar.finalize();
    await writing;
  } catch (e) {
    tar.destroy(e as Error);
    await writing.catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  const digest = `sha256:${blob.digest('hex')}`;
  const path = join(dir, `${digest.replace(':', '-')}.tar.gz`);
  await rename(tmp, path);
  return { blob: { mediaType: MEDIA.ociLayerGzip, digest, size, path }, diffId: `sha256:${diff.digest('hex')}` };
}

function addEntry(tar: ReturnType<typeof pack>, path: string, node: FsNode, mtime: Date): Promise<void> {
  const header: Header = { name: node.type === 'dir' ? `${path}/` : path, mode: node.mode, uid: node.uid, gid: node.gid, uname: '', gname: '', mtime,
    type: node.type === 'dir' ? 'directory' : node.type === 'symlink' ? 'symlink' : 'file', size: 0, linkname: '', devmajor: 0, devminor: 0 };
  if (node.type === 'symlink') header.linkname = node.linkname ?? '';
  if (node.type === 'other') return Promise.reject(new Error(`/${path}: the assembler writes only files, directories and symlinks`));
  if (node.type !== 'file') return new Promise((resolve, reject) => tar.entry(header, (e) => (e ? reject(e) : resolve())));
  if (!node.source) return Promise.reject(new Error(`/${path}: a file from the parent image cannot be rewritten by the assembler`));
  return fileEntry(tar, header, node.source);
}

async function fileEntry(tar: ReturnType<typeof pack>, header: Header, source: string): Promise<void> {
  const { size } = await stat(source);
  await new Promise<void>((resolve, reject) => {
    const sink = tar.entry({ ...header, size }, (e) => (e ? reject(e) : resolve()));
    createReadStream(source).on('error', reject).pipe(sink);
  });
}

function tap(each: (c: Buffer) => void): Transform {
  return new Transform({ transform(c: Buffer, _e, cb: TransformCallback) { each(c); cb(null, c); } });
}

/** Sets the gzip header's OS byte, the one header field zlib takes from how it was built. */
class FixOsByte extends Transform {
  private seen = 0;

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    if (this.seen <= GZIP_OS_BYTE && this.seen + chunk.length > GZIP_OS_BYTE) {
      chunk = Buffer.from(chunk);
      chunk[GZIP_OS_BYTE - this.seen] = OS_UNIX;
    }
    this.seen += chunk.length;
    cb(null, chunk);
  }
}
