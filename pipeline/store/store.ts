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

export interface StoredObject {
  bytes: Buffer;
  etag: string;
  /**
   * How long ago the object was last written, by the store's own clock (S3: the reply's `Date` minus the
   * object's `Last-Modified`; a directory: now minus the file's mtime). Undefined when the store cannot tell.
   * The lease judges expiry by it, so a reader whose clock is off cannot take a live lease.
   */
  ageMs?: number;
}

/** What to write: bytes, or a file streamed from disk (archives). */
export type Body = string | Uint8Array | { file: string };

export interface Condition {
  /** create only: fail with STORE_PRECONDITION when the key exists */
  ifNoneMatch?: true;
  /** replace only the version with this etag: fail with STORE_PRECONDITION otherwise */
  ifMatch?: string;
}

/**
 * Why a conditional write did not happen: the key exists (create-only), it holds another version
 * (If-Match), it is gone (If-Match on a deleted key: S3 answers 404), or a concurrent write to it
 * conflicted (S3 409 ConditionalRequestConflict: nothing was written, try again).
 */
export type ConditionReason = 'exists' | 'changed' | 'gone' | 'conflict';

/** A conditional write that did not happen, and why (STORE_PRECONDITION, or STORE_CONFLICT for a race to retry). */
export class ConditionFailed extends EksdError {
  readonly reason: ConditionReason;

  constructor(where: string, reason: ConditionReason) {
    super(reason === 'conflict' ? 'STORE_CONFLICT' : 'STORE_PRECONDITION', `${where} ${CONDITION_TEXT[reason]}`, { where, hint: CONDITION_HINT[reason] });
    this.reason = reason;
  }
}

const CONDITION_TEXT: Record<ConditionReason, string> = {
  exists: 'already exists', changed: 'changed since it was read', gone: 'was removed since it was read',
  conflict: 'was being written by another request at the same time (409 ConditionalRequestConflict)',
};

const CONDITION_HINT: Record<ConditionReason, string> = {
  exists: 'another run wrote it at the same time; read it again', changed: 'another run wrote it at the same time; read it again',
  gone: 'another run or a person removed it; read it again', conflict: 'nothing was written; read it again and retry',
};

export interface Store {
  /** A directory on this machine: its conditional writes are made here (store/dir.ts), with nothing to prove (store/probe.ts). */
  readonly local?: boolean;
  /** Where a key lives, for messages: `s3://bucket/prefix/key` or a file path. */
  where(key: string): string;
  get(key: string): Promise<StoredObject | undefined>;
  /** The object as a stream, for objects too large to hold (archives); undefined when it does not exist. */
  read(key: string): Promise<Readable | undefined>;
  /** Names of the objects directly under `prefix` (which ends with `/`), not recursing. */
  list(prefix: string): Promise<string[]>;
  /** Names of the folders directly under `prefix` (which ends with `/`): what keys below it go through. */
  folders(prefix: string): Promise<string[]>;
  /** Writes `key`; returns the new etag. A failed condition throws STORE_PRECONDITION. */
  put(key: string, body: Body, condition?: Condition): Promise<string>;
  delete(key: string, condition?: { ifMatch?: string }): Promise<void>;
}

/** A conditional write that did not happen, for whatever reason (see ConditionReason). */
export function isPrecondition(e: unknown): e is ConditionFailed {
  return e instanceof ConditionFailed;
}

/** The failed condition of a write: `exists` for create-only, `changed` for If-Match, unless `reason` says otherwise. */
export function preconditionFailed(where: string, condition: Condition, reason?: ConditionReason): ConditionFailed {
  return new ConditionFailed(where, reason ?? (condition.ifNoneMatch ? 'exists' : 'changed'));
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
  sameBytes: (existing: Buffer, mine: Buffer) => boolean = (a, b) => a.equals(b)): Promise<OnceStatus> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await store.put(key, body, { ifNoneMatch: true });
      return 'written';
    } catch (e) {
      if (!isPrecondition(e)) throw e;
    }
    const same = isFileBody(body) ? await sameAsFile(store, key, body.file) : await sameAsBytes(store, key, await bodyBytes(body), sameBytes);
    if (same === true) return 'unchanged';
    if (same === false) throw exists(store, key);
    // absent after a 409 race: nothing was written, try again
  }
  throw new EksdError('STORE_CONFLICT', `${store.where(key)}: the store answered conflicting concurrent writes three times, and nothing is there`, {
    where: store.where(key), hint: 'another writer is racing for this key; run again',
  });
}

function exists(store: Store, key: string): EksdError {
  return new EksdError('STORE_OBJECT_EXISTS', `${store.where(key)} is already published with different content`, {
    where: store.where(key), hint: 'published objects are write-once; publish the change under the next release number',
  });
}

function isFileBody(body: Body): body is { file: string } {
  return typeof body === 'object' && !(body instanceof Uint8Array);
}

/** Whether the stored object has these bytes; undefined when there is none. */
async function sameAsBytes(store: Store, key: string, mine: Buffer, same: (existing: Buffer, mine: Buffer) => boolean): Promise<boolean | undefined> {
  const existing = await store.get(key);
  return existing === undefined ? undefined : same(existing.bytes, mine);
}

/** Whether the stored object has the file's bytes (size and digests, both read as streams); undefined when there is none. */
async function sameAsFile(store: Store, key: string, file: string): Promise<boolean | undefined> {
  const existing = await store.read(key);
  if (!existing) return undefined;
  const [theirs, mine] = await Promise.all([hashStream(existing), hashFile(file)]);
  return theirs.size === mine.size && theirs.sha256 === mine.sha256 && theirs.sha512 === mine.sha512;
}

/** The object's text, or undefined when it does not exist. */
export async function getText(store: Store, key: string): Promise<string | undefined> {
  return (await store.get(key))?.bytes.toString('utf8');
}
