import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { through } from '../util/streams.ts';

/**
 * Blob content to push: bytes in memory, a file, or a function that opens a fresh stream (called again
 * for every retry, since a stream cannot be replayed). An opener that declares the `onChunk` parameter
 * must call it for every chunk read (it keeps the upload's watchdog fed); one that does not declare it
 * gets its stream wrapped to do so.
 */
export type BlobSource = Uint8Array | { path: string } | { open: (onChunk?: () => void) => Promise<Readable> };

const FILE_READ_SIZE = 1024 * 1024;

/** A stream that calls `onChunk` with each chunk's size as it passes through. */
export function withProgress(stream: Readable, onChunk: (bytes: number) => void): Readable {
  return through(stream, new Transform({ transform(c: Buffer, _e, callback) { onChunk(c.byteLength); callback(null, c); } }));
}

/** A file as a stream read in 1 MiB pieces, calling `onChunk` per piece. */
export function fileStream(path: string, onChunk: () => void = () => undefined): Readable {
  return withProgress(createReadStream(path, { highWaterMark: FILE_READ_SIZE }), onChunk);
}

export function isBytes(source: BlobSource): source is Uint8Array {
  return source instanceof Uint8Array;
}

/** The size of the source when it can be known without reading it. */
export async function sourceSize(source: BlobSource): Promise<number | undefined> {
  if (isBytes(source)) return source.byteLength;
  if ('path' in source) return (await stat(source.path)).size;
  return undefined;
}

/** Opens the whole source as a request body (bytes stay bytes; files and openers become streams). */
export async function openWhole(source: BlobSource, onChunk: () => void = () => undefined): Promise<Uint8Array | Readable> {
  if (isBytes(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if ('path' in source) return fileStream(source.path, onChunk);
  return source.open.length >= 1 ? source.open(onChunk) : withProgress(await source.open(), onChunk);
}

/** Re-chunks a stream into buffers of exactly `size` bytes (the last one may be shorter). */
async function* rechunk(stream: Readable, size: number): AsyncGenerator<Uint8Array> {
  let parts: Uint8Array[] = [];
  let held = 0;
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    let rest = chunk;
    while (held + rest.byteLength >= size) {
      const take = size - held;
      parts.push(rest.subarray(0, take));
      yield Buffer.concat(parts, size);
      rest = rest.subarray(take);
      parts = [];
      held = 0;
    }
    if (rest.byteLength > 0) { parts.push(rest); held += rest.byteLength; }
  }
  if (held > 0) yield Buffer.concat(parts, held);
}

async function* fileChunks(path: string, size: number): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    for (let pos = 0; ; ) {
      const buf = Buffer.allocUnsafe(size);
      const { bytesRead } = await fh.read(buf, 0, size, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** The source as consecutive chunks of `size` bytes, for chunked (PATCH) uploads. */
export async function* chunksOf(source: BlobSource, size: number): AsyncGenerator<Uint8Array> {
  if (isBytes(source)) {
    for (let pos = 0; pos < source.byteLength; pos += size) yield source.subarray(pos, pos + size);
    return;
  }
  if ('path' in source) { yield* fileChunks(source.path, size); return; }
  yield* rechunk(await source.open(), size);
}
