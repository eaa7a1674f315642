/**
 * sha256/sha512 of files, computed in one read, and a copy that verifies the bytes it writes.
 * Checksum files use the coreutils format `<hex>  <path>\n` so `sha256sum -c` reads them.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { EksdError } from '../errors.ts';
import { tempPathFor } from '../util/fs-atomic.ts';
import { hasher, type Digests } from '../util/checksums.ts';

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
