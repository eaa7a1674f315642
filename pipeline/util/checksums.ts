/** sha256 and sha512 of a stream or file in one read, in bounded memory (one chunk at a time). */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';

export interface Digests {
  sha256: string;
  sha512: string;
  size: number;
}

/** Both digests of what passes through `stream`, available from `result` once it has ended. */
export function hasher(): { stream: Transform; result: () => Digests } {
  const h256 = createHash('sha256');
  const h512 = createHash('sha512');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      h256.update(chunk);
      h512.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ sha256: h256.digest('hex'), sha512: h512.digest('hex'), size }) };
}

/** Both digests of everything a stream yields, read chunk by chunk. */
export async function hashStream(source: AsyncIterable<Uint8Array>): Promise<Digests> {
  const h256 = createHash('sha256');
  const h512 = createHash('sha512');
  let size = 0;
  for await (const chunk of source) {
    h256.update(chunk);
    h512.update(chunk);
    size += chunk.byteLength;
  }
  return { sha256: h256.digest('hex'), sha512: h512.digest('hex'), size };
}

export function hashFile(path: string): Promise<Digests> {
  return hashStream(createReadStream(path, { highWaterMark: 1024 * 1024 }));
}
