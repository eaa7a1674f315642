import { createHash, type Hash } from 'node:crypto';
import { Transform } from 'node:stream';

/** "sha256:<hex>" of the bytes (or sha512 when asked). */
export function digestOf(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** The hash algorithm named by a digest ("sha256" unless it says sha512). */
export function algorithmOf(digest: string): 'sha256' | 'sha512' {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

/** True when the bytes hash to the expected digest (its own algorithm). */
export function matchesDigest(bytes: Uint8Array, expected: string): boolean {
  return digestOf(bytes, algorithmOf(expected)) === expected;
}

/** A running digest: feed chunks, then read `digest` and `size`. */
export class DigestAccumulator {
  private readonly hash: Hash;
  size = 0;

  constructor(readonly algorithm: 'sha256' | 'sha512' = 'sha256') {
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.byteLength;
  }

  digest(): string {
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }
}

/**
 * A pass-through stream that hashes what flows through it, calls onChunk for each chunk (progress,
 * watchdogs) and, when `expected` is given, errors the stream at its end if the digest differs, so a
 * request carrying it fails instead of completing with wrong bytes.
 */
export function hashingStream(options: {
  algorithm?: 'sha256' | 'sha512';
  expected?: string;
  onChunk?: (bytes: number) => void;
  onDone?: (digest: string, size: number) => void;
  onMismatch?: (actual: string) => Error;
}): Transform {
  const acc = new DigestAccumulator(options.algorithm ?? algorithmOf(options.expected ?? ''));
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      acc.update(chunk);
      options.onChunk?.(chunk.byteLength);
      callback(null, chunk);
    },
    flush(callback) {
      const digest = acc.digest();
      if (options.expected !== undefined && digest !== options.expected) {
        callback(options.onMismatch?.(digest) ?? new Error(`digest mismatch: expected ${options.expected}, got ${digest}`));
        return;
      }
      options.onDone?.(digest, acc.size);
      callback();
    },
  });
}
