/**
 * The Store port: the distro site (manifests, archives, channel files, CRDs) and the release state that
 * must outlive a machine (the per-channel lease, the announcement ledger, the run journal, the last
 * released base pin). Two adapters: a directory (local profile) and S3 (production). Both offer the
 * conditional writes the release relies on: create-only (`ifNoneMatch`, S3 `If-None-Match: *`) and
 * replace-only-this-version (`ifMatch`, S3 `If-Match: <etag>`). Only a real "not found" means absent;
 * every other failure is an error naming the object.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { EksdError } from '../errors.ts';
import { hashFile, hashStream } from '../util/checksums.ts';

export interface StoredObject { bytes: Buffer; etag: string }

/** What to write: bytes, or a file streamed from disk (archives). */
export type Body = string | Uint8Array | { file: string };

export interface Condition {
  /** create only: fail with STORE_PRECONDITION when the key exists */
  ifNoneMatch?: true;
  /** replace only the version with this etag: fail with STORE_PRECONDITION otherwise */
  ifMatch?: string;
}

export interface Store {
  /** Where a key lives, for messages: `s3://bucket/prefix/key` or a file path. */
  where(key: string): string;
  get(key: string): Promise<StoredObject | undefined>;
  /** The object as a stream, for objects too large to hold (archives); undefined when it does not exist. */
  read(key: string): Promise<Readable | undefined>;
  /** Names of the objects directly under `prefix` (which ends with `/`), not recursing. */
  list(prefix: string): Promise<string[]>;
  /** Writes `key`; returns the new etag. A failed condition throws STORE_PRECONDITION. */
  put(key: string, body: Body, condition?: Condition): Promise<string>;
  delete(key: string, condition?: { ifMatch?: string }): Promise<void>;
}

export function isPrecondition(e: unknown): boolean {
  return e instanceof EksdError && e.code === 'STORE_PRECONDITION';
}

export function preconditionFailed(where: string, condition: Condition): EksdError {
  return new EksdError('STORE_PRECONDITION', `${where} ${condition.ifNoneMatch ? 'already exists' : 'changed since it was read'}`, {
    where, hint: 'another run wrote it at the same time; read it again',
  });
}

export async function bodyBytes(body: Body): Promise<Buffer> {
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  return readFile(body.file);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export type OnceStatus = 'written' | 'unchanged';

/**
 * Writes a write-once object: created if absent; if present (now or because a retried request already
 * created it), equal bytes are fine and different bytes are an error naming the key. `same` decides
 * equality when bytes may legitimately differ (a manifest's status.date); a file (an archive) is
 * compared by its digests, read as streams, and never held in memory.
 */
export async function putOnce(store: Store, key: string, body: Body,
  same: (existing: Buffer, mine: Buffer) => boolean = (a, b) => a.equals(b)): Promise<OnceStatus> {
  try {
    await store.put(key, body, { ifNoneMatch: true });
    return 'written';
  } catch (e) {
    if (!isPrecondition(e)) throw e;
  }
  if (isFileBody(body) ? await sameAsFile(store, key, body.file) : await sameAsBytes(store, key, await bodyBytes(body), same)) return 'unchanged';
  throw new EksdError('STORE_OBJECT_EXISTS', `${store.where(key)} is already published with different content`, {
    where: store.where(key), hint: 'published objects are write-once; publish the change under the next release number',
  });
}

function isFileBody(body: Body): body is { file: string } {
  return typeof body === 'object' && !(body instanceof Uint8Array);
}

async function sameAsBytes(store: Store, key: string, mine: Buffer, same: (existing: Buffer, mine: Buffer) => boolean): Promise<boolean> {
  const existing = await store.get(key);
  return existing !== undefined && same(existing.bytes, mine);
}

/** The stored object has the file's bytes: compared by size and digests, both read as streams. */
async function sameAsFile(store: Store, key: string, file: string): Promise<boolean> {
  const existing = await store.read(key);
  if (!existing) return false;
  const [theirs, mine] = await Promise.all([hashStream(existing), hashFile(file)]);
  return theirs.size === mine.size && theirs.sha256 === mine.sha256 && theirs.sha512 === mine.sha512;
}

/** The object's text, or undefined when it does not exist. */
export async function getText(store: Store, key: string): Promise<string | undefined> {
  return (await store.get(key))?.bytes.toString('utf8');
}
