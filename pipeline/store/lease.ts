/**
 * One run per channel, across machines: a lease object `leases/<ch>.json` in the state store. Its holder
 * is a random run id; host, pid and command are in the body for people. It is created only if absent
 * (create-only write); a live lease makes a second run fail fast naming the holder (RUN_LOCKED, exit 4).
 *
 * Expiry is judged by the store's clock, never the reader's: a lease is expired when the store says it
 * was last written more than its lifetime ago (S3: reply `Date` minus `Last-Modified`; a directory: the
 * file's mtime), plus one second for S3's resolution. A store that cannot tell its age falls back to the
 * holder's `expiresAt` plus a margin of one whole lifetime. A lease whose holder process is certainly
 * gone (same boot and pid namespace, pid free or reused: util/process-identity.ts) is expired at once.
 * An expired lease is taken over by a write conditional on the version read (If-Match), so of two hosts
 * that find it expired exactly one gets it.
 *
 * The holder renews it every third of its lifetime. A renewal that finds the lease removed (404 on
 * If-Match) or taken over loses it; one that meets a concurrent write (409) tries again. `assertHeld`,
 * called before anything that must happen once (the announcement), throws LEASE_LOST when it was lost or
 * not renewed within its lifetime.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { EksdError } from '../errors.ts';
import { isPrecondition, type Store, type StoredObject } from '../store/store.ts';
import { processGone, selfIdentity, type ProcessIdentity } from '../util/process-identity.ts';

export interface LeaseRecord {
  /** the run id: who holds the lease */
  id: string;
  host: string;
  pid: number;
  command: string;
  startedAt: string;
  /** on the holder's clock, for people and for stores that cannot tell an object's age */
  expiresAt: string;
  ttlSeconds?: number;
  /** the holder process, to tell on this machine that it is gone */
  process?: ProcessIdentity;
}

export interface Lease {
  readonly key: string;
  /** The run id that holds it. */
  readonly id: string;
  /** Throws LEASE_LOST when the lease was removed, taken over, or not renewed within its lifetime. */
  assertHeld(): void;
  /** Stops renewing and removes the lease (unless lost); a store failure is thrown as LEASE_RELEASE_FAILED. */
  release(): Promise<void>;
}

export interface LeaseOptions {
  ttlSeconds: number;
  /** the reader's clock (tests move it) */
  now?: () => number;
}

export const leaseKey = (channel: string): string => `leases/${channel}.json`;

/** S3's Last-Modified and Date have a resolution of one second. */
const AGE_RESOLUTION_MS = 1000;

export async function acquireLease(store: Store, channel: string, command: string, o: LeaseOptions): Promise<Lease> {
  const key = leaseKey(channel);
  const now = o.now ?? Date.now;
  const id = randomUUID();
  const startedAt = new Date(now()).toISOString();
  const identity = selfIdentity();
  const me = (): LeaseRecord => ({ id, host: hostname(), pid: process.pid, command, startedAt,
    expiresAt: new Date(now() + o.ttlSeconds * 1000).toISOString(), ttlSeconds: o.ttlSeconds, ...(identity ? { process: identity } : {}) });
  for (let attempt = 0; attempt < 20; attempt++) {
    const mine = me();
    try {
      const sent = now();
      return held(store, key, mine, await store.put(key, text(mine), { ifNoneMatch: true }), o, me, sent);
    } catch (e) {
      if (!isPrecondition(e)) throw e;
    }
    const current = await store.get(key);
    if (!current) continue; // released in the meantime, or a 409 race: try again
    const holder = parseLease(current.bytes.toString('utf8'), store.where(key));
    if (holder.id === id) return held(store, key, holder, current.etag, o, me); // our create, retried after a lost reply
    if (!expired(holder, current, now(), o.ttlSeconds)) throw lockedError(channel, holder, store.where(key));
    try {
      const sent = now();
      return held(store, key, mine, await store.put(key, text(mine), { ifMatch: current.etag }), o, me, sent);
    } catch (e) {
      if (!isPrecondition(e)) throw e; // another run took it over first, or removed it: look again
    }
  }
  throw new EksdError('RUN_LOCKED', `could not take the lease of channel ${channel}: other runs keep taking it`, { where: store.where(key), hint: 'retry' });
}

/** Expired by the store's clock (see above), or held by a process that is certainly gone. */
export function expired(holder: LeaseRecord, current: StoredObject, readerNow: number, ownTtlSeconds: number): boolean {
  if (processGone(holder.process)) return true;
  if (holder.ttlSeconds !== undefined && current.ageMs !== undefined) return current.ageMs > holder.ttlSeconds * 1000 + AGE_RESOLUTION_MS;
  const margin = (holder.ttlSeconds ?? ownTtlSeconds) * 1000;
  return Date.parse(holder.expiresAt) + margin <= readerNow;
}

type Renewal = { state: 'renewed'; record: LeaseRecord; etag: string } | { state: 'retry' } | { state: 'lost'; reason: string };

/** One renewal: replace our version with a fresh record; say what happened when the condition failed. */
async function renewOnce(store: Store, key: string, etag: string, mine: LeaseRecord): Promise<Renewal> {
  try {
    return { state: 'renewed', record: mine, etag: await store.put(key, text(mine), { ifMatch: etag }) };
  } catch (e) {
    if (!isPrecondition(e)) return { state: 'retry' }; // the store failed: try again next turn; assertHeld notices if time runs out
    if (e.reason === 'conflict') return { state: 'retry' };
    if (e.reason === 'gone') return { state: 'lost', reason: 'removed by someone else (the store says the lease object no longer exists)' };
  }
  const there = await store.get(key).catch(() => undefined);
  if (!there) return { state: 'lost', reason: 'removed by someone else' };
  if (there.bytes.toString('utf8') === text(mine)) return { state: 'renewed', record: mine, etag: there.etag }; // our write, reply lost
  if (there.etag === etag) return { state: 'retry' };
  return { state: 'lost', reason: `taken over by ${describeHolder(parseLease(there.bytes.toString('utf8'), store.where(key)))}` };
}

/** `writtenAt`: when the write that took the lease was sent (the lifetime counts from there, as the store's clock does). */
function held(store: Store, key: string, record: LeaseRecord, etag: string, o: LeaseOptions, next: () => LeaseRecord, writtenAt?: number): Lease {
  const now = o.now ?? Date.now;
  let current = { record, etag, renewedAt: writtenAt ?? now() };
  let lost: string | undefined;
  let renewing: Promise<void> = Promise.resolve();
  const renew = async (): Promise<void> => {
    if (lost) return;
    // The store dates the write from when it got the request: count the lifetime from before sending it.
    const sent = now();
    const r = await renewOnce(store, key, current.etag, next());
    if (r.state === 'renewed') current = { record: r.record, etag: r.etag, renewedAt: sent };
    if (r.state === 'lost') lost = r.reason;
  };
  const timer = setInterval(() => {
    renewing = renewing.then(renew).catch((e: unknown) => { lost ??= `its renewal failed: ${(e as Error).message}`; });
  }, Math.max(1000, (o.ttlSeconds * 1000) / 3));
  timer.unref();
  return {
    key,
    id: record.id,
    assertHeld() {
      const reason = lost ?? (now() - current.renewedAt >= o.ttlSeconds * 1000 ? `not renewed since ${new Date(current.renewedAt).toISOString()}, longer than its ${o.ttlSeconds} s lifetime` : undefined);
      if (reason) {
        throw new EksdError('LEASE_LOST', `this run no longer holds the lease of ${store.where(key)}: ${reason}`, {
          where: store.where(key), hint: 'another run may be releasing this channel; nothing more is done by this one — run again once it finished',
        });
      }
    },
    async release() {
      clearInterval(timer);
      await renewing;
      if (lost) return;
      try {
        await store.delete(key, { ifMatch: current.etag });
      } catch (e) {
        if (isPrecondition(e) && e.reason !== 'conflict') return; // someone else's now: not ours to remove
        throw new EksdError('LEASE_RELEASE_FAILED', `the lease ${store.where(key)} could not be released: ${(e as Error).message}`, {
          where: store.where(key), hint: `it expires ${o.ttlSeconds} s after its last renewal; the next run waits for that or takes it over then`, cause: e,
        });
      }
    },
  };
}

/**
 * Releases the lease after a run; a failure is told through `warn` (beside the run's outcome), never
 * thrown in its place.
 */
export async function releaseAfterRun(lease: Lease | undefined, warn: (message: string) => void): Promise<void> {
  try {
    await lease?.release();
  } catch (e) {
    warn(`warning: ${e instanceof EksdError ? e.describe() : (e as Error).message}`);
  }
}

function text(r: LeaseRecord): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export function parseLease(body: string, where: string): LeaseRecord {
  try {
    const r = JSON.parse(body) as LeaseRecord;
    if (typeof r.pid === 'number' && typeof r.host === 'string' && typeof r.expiresAt === 'string' && !Number.isNaN(Date.parse(r.expiresAt))) return r;
  } catch { /* reported below */ }
  throw new EksdError('LEASE_UNREADABLE', `the lease ${where} cannot be read`, {
    where, hint: 'make sure no run of this channel is going on, then delete the object and run again',
  });
}

function describeHolder(h: LeaseRecord): string {
  return `pid ${h.pid} on ${h.host} (${h.command}, run ${h.id}, since ${h.startedAt}, until ${h.expiresAt})`;
}

function lockedError(channel: string, holder: LeaseRecord, where: string): EksdError {
  return new EksdError('RUN_LOCKED', `channel ${channel} is locked by ${describeHolder(holder)}`, {
    where, hint: `wait for that run to finish; a lease that is not renewed expires ${holder.ttlSeconds ?? 'its lifetime in'} s after its last renewal (by the store's clock) and is then taken over`,
  });
}
