/**
 * One layer from a step's changes: a tar with headers as Go's archive/tar writes them (tar-header.ts),
 * entries in the given order, every mtime the fixed time, no user or group names, then gzip
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
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Layer } from '../../image/image.ts';
import { MEDIA } from '../../image/media-types.ts';
import { END, headerBlocks, padding } from './tar-header.ts';
import type { FsNode } from './tree.ts';

export interface WrittenLayer { blob: Layer; diffId: string }

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
  return createHash('sha256').update(JSON.stringify({ v: 2, mtime: mtime.getTime(), entries: described })).digest('hex');
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
  try {
    await pipeline(Readable.from(tarChunks(entries, Math.floor(mtime.getTime() / 1000))), tap((c) => diff.update(c)), createGzip({ level: 6 }), new FixOsByte(),
      tap((c) => { blob.update(c); size += c.length; }), createWriteStream(tmp));
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  const digest = `sha256:${blob.digest('hex')}`;
  const path = join(dir, `${digest.replace(':', '-')}.tar.gz`);
  await rename(tmp, path);
  return { blob: { mediaType: MEDIA.ociLayerGzip, digest, size, path }, diffId: `sha256:${diff.digest('hex')}` };
}

/** The layer's tar, entry by entry: header blocks, content, padding; then the end blocks. */
async function* tarChunks(entries: Array<[string, FsNode]>, mtime: number): AsyncGenerator<Buffer> {
  for (const [path, node] of entries) {
    if (node.type === 'other') throw new Error(`/${path}: the assembler writes only files, directories and symlinks`);
    if (node.type === 'file' && !node.source) throw new Error(`/${path}: a file from the parent image cannot be rewritten by the assembler`);
    const size = node.type === 'file' ? (await stat(node.source!)).size : 0;
    yield headerBlocks({ name: node.type === 'dir' ? `${path}/` : path, type: node.type, mode: node.mode, uid: node.uid, gid: node.gid, size,
      linkname: node.type === 'symlink' ? node.linkname ?? '' : '', mtime });
    if (node.type !== 'file') continue;
    let read = 0;
    for await (const chunk of createReadStream(node.source!)) { read += (chunk as Buffer).length; yield chunk as Buffer; }
    if (read !== size) throw new Error(`${node.source}: changed while it was being written into the layer (${size} bytes, then ${read})`);
    yield padding(size);
  }
  yield END;
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
