/**
 * One run per channel, across machines: a lease object `leases/<ch>.json` in the state store naming its
 * holder (host, pid, command) and when it expires. It is created only if absent (create-only write); a
 * live lease makes a second run fail fast naming the holder (RUN_LOCKED, exit 4). An expired lease, or
 * one whose holder is a dead process on this host, is taken over by a write conditional on the version
 * read (If-Match), so of two hosts that find it expired exactly one gets it. The holder renews it every
 * third of its lifetime; a holder that lost it (expired, taken over) learns so at `assertHeld`, which
 * the run calls before anything that must happen once (the announcement).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { EksdError } from '../errors.ts';
import { isPrecondition, type Store } from '../store/store.ts';
import { alive } from '../util/pid-lock.ts';

export interface LeaseRecord { id: string; host: string; pid: number; command: string; startedAt: string; expiresAt: string }

export interface Lease {
  readonly key: string;
  /** Throws LEASE_LOST when the lease expired or another run took it over. */
  assertHeld(): void;
  release(): Promise<void>;
}

export interface LeaseOptions {
  ttlSeconds: number;
  now?: () => number;
}

export const leaseKey = (channel: string): string => `leases/${channel}.json`;

export async function acquireLease(store: Store, channel: string, command: string, o: LeaseOptions): Promise<Lease> {
  const key = leaseKey(channel);
  const now = o.now ?? Date.now;
  const me = (): LeaseRecord => ({ id, host: hostname(), pid: process.pid, command, startedAt, expiresAt: new Date(now() + o.ttlSeconds * 1000).toISOString() });
  const id = randomUUID();
  const startedAt = new Date(now()).toISOString();
  for (let attempt = 0; attempt < 20; attempt++) {
    const mine = me();
    try {
      return held(store, key, mine, await store.put(key, text(mine), { ifNoneMatch: true }), o, me);
    } catch (e) {
      if (!isPrecondition(e)) throw e;
    }
    const current = await store.get(key);
    if (!current) continue; // released in the meantime
    const holder = parseLease(current.bytes.toString('utf8'), store.where(key));
    if (holder.id === id) return held(store, key, holder, current.etag, o, me); // our create, retried after a lost reply
    if (!expired(holder, now())) throw lockedError(channel, holder, store.where(key));
    try {
      return held(store, key, mine, await store.put(key, text(mine), { ifMatch: current.etag }), o, me);
    } catch (e) {
      if (!isPrecondition(e)) throw e; // another run took it over first: look again
    }
  }
  throw new EksdError('RUN_LOCKED', `could not take the lease of channel ${channel}: other runs keep taking it`, { where: store.where(key), hint: 'retry' });
}

/** A lease past its expiry, or held by a process of this host that is gone. */
function expired(holder: LeaseRecord, now: number): boolean {
  return Date.parse(holder.expiresAt) <= now || (holder.host === hostname() && !alive(holder.pid));
}

function held(store: Store, key: string, record: LeaseRecord, etag: string, o: LeaseOptions, next: () => LeaseRecord): Lease {
  const now = o.now ?? Date.now;
  let current = { record, etag };
  let lost: string | undefined;
  let renewing: Promise<void> = Promise.resolve();
  const renew = async (): Promise<void> => {
    const mine = next();
    try {
      current = { record: mine, etag: await store.put(key, text(mine), { ifMatch: current.etag }) };
    } catch (e) {
      if (isPrecondition(e)) {
        const there = await store.get(key).catch(() => undefined);
        if (there && there.bytes.toString('utf8') === text(mine)) current = { record: mine, etag: there.etag }; // our write, reply lost
        else lost = there ? `taken over by ${describeHolder(parseLease(there.bytes.toString('utf8'), store.where(key)))}` : 'removed by someone else';
      }
      // Any other error: try again at the next turn; assertHeld notices if the lease runs out meanwhile.
    }
  };
  const timer = setInterval(() => { renewing = renewing.then(renew); }, Math.max(1000, (o.ttlSeconds * 1000) / 3));
  timer.unref();
  return {
    key,
    assertHeld() {
      const reason = lost ?? (Date.parse(current.record.expiresAt) <= now() ? `expired at ${current.record.expiresAt} without renewal` : undefined);
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
      await store.delete(key, { ifMatch: current.etag }).catch((e: unknown) => { if (!isPrecondition(e)) throw e; });
    },
  };
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
  return `pid ${h.pid} on ${h.host} (${h.command}, since ${h.startedAt}, until ${h.expiresAt})`;
}

function lockedError(channel: string, holder: LeaseRecord, where: string): EksdError {
  return new EksdError('RUN_LOCKED', `channel ${channel} is locked by ${describeHolder(holder)}`, {
    where, hint: `wait for that run to finish; a lease whose holder is gone expires at ${holder.expiresAt} and is then taken over`,
  });
}

/** Runs `work` holding the channel's lease; releases it afterwards, whatever happened. */
export async function withLease<T>(store: Store, channel: string, command: string, ttlSeconds: number, work: (lease: Lease) => Promise<T>): Promise<T> {
  const lease = await acquireLease(store, channel, command, { ttlSeconds });
  try {
    return await work(lease);
  } finally {
    await lease.release();
  }
}
