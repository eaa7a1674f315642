/**
 * sha256/sha512 of files, computed in one read, and a copy that verifies the bytes it writes.
 * Checksum files use the coreutils format `<hex>  <path>\n` so `sha256sum -c` reads them.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EksdError } from '../errors.ts';
import { tempPathFor } from './fs-atomic.ts';

export interface Digests {
  sha256: string;
  sha512: string;
  size: number;
}

function hasher(): { stream: Transform; result: () => Digests } {
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

export function sumLine(hex: string, name: string): string {
  return `${hex}  ${name}\n`;
}

/**
 * Copies src to dest (atomically: temp file, fsync, rename) while hashing the bytes; if they do not
 * match expected nothing is left at dest and ARCHIVE_CHECKSUM_MISMATCH names the file.
 */
export async function copyVerified(src: string, dest: string, expected: { sha256: string; sha512: string }, label: string): Promise<Digests> {
  const tmp = tempPathFor(dest);
  const h = hasher();
  try {
    await mkdir(dirname(dest), { recursive: true });
    await pipeline(createReadStream(src), h.stream, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
    const got = h.result();
    for (const algo of ['sha256', 'sha512'] as const) {
      if (got[algo] !== expected[algo]) {
        throw new EksdError('ARCHIVE_CHECKSUM_MISMATCH', `${label}: ${algo} of ${src} is ${got[algo]}, expected ${expected[algo]}`, {
          where: src, hint: 'the file changed after it was verified; rebuild or re-fetch the artifact and run the release again',
        });
      }
    }
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
    return got;
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    if (e instanceof EksdError) throw e;
    throw new EksdError('ARCHIVE_COPY_FAILED', `${label}: cannot copy ${src} to ${dest}: ${(e as Error).message}`, {
      where: src, hint: 'check that the artifact exists and the site directory is writable', cause: e,
    });
  }
}
