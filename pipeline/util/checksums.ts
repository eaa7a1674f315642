/** sha256 and sha512 of a stream or file in one read. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface Digests {
  sha256: string;
  sha512: string;
  size: number;
}

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

export async function hashFile(path: string): Promise<Digests> {
  const h = hasher();
  await pipeline(createReadStream(path), h.stream, async function* (source) {
    for await (const _ of source) { /* drain */ }
  });
  return h.result();
}
