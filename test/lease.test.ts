/**
 * The channel lease on both stores (directory, S3 through the stand-in): one holder at a time, renewed
 * while its run lives, judged expired by the store's clock (never the reader's), taken over once expired
 * by exactly one of several contenders; a holder that lost it (taken over, removed) learns so before it
 * could announce; a 409 race on renewal is retried, not a loss.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { isEksdError } from '../pipeline/errors.ts';
import { acquireLease, leaseKey, releaseAfterRun, type Lease } from '../pipeline/store/lease.ts';
import { DirStore } from '../pipeline/store/dir.ts';
import type { Store } from '../pipeline/store/store.ts';
import { processGone, selfIdentity } from '../pipeline/util/process-identity.ts';
import { bothStores } from './helpers/stores.ts';

const { s3, adapters: stores } = bothStores('state');

const foreign = (o: { ttlSeconds?: number; process?: unknown } = {}) => JSON.stringify({ id: 'other', host: 'build-host-7', pid: 4242, command: 'eksd release',
  startedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + (o.ttlSeconds ?? 60) * 1000).toISOString(), ttlSeconds: o.ttlSeconds ?? 60,
  ...(o.process ? { process: o.process } : {}) });

/** A process of this machine that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid;
}

const unwrap = (r: PromiseSettledResult<Lease>) => (r as PromiseFulfilledResult<Lease>).value;

for (const [name, make] of Object.entries(stores)) {
  test(`${name}: a live lease refuses a second holder, naming the first; released, it can be taken`, async (t) => {
    const store = await make();
    const first = await acquireLease(store, '1-33', 'eksd release (first)', { ttlSeconds: 60 });
    const e = await t.throwsAsync(acquireLease(store, '1-33', 'eksd release (second)', { ttlSeconds: 60 }));
    t.true(isEksdError(e, 'RUN_LOCKED'));
    t.regex(e!.message, new RegExp(`locked by pid \\d+ on .*eksd release \\(first\\), run ${first.id}`));
    const body = JSON.parse((await store.get(leaseKey('1-33')))!.bytes.toString()) as Record<string, unknown>;
    t.is(body.id, first.id, 'the holder is the random run id');
    t.is(body.host, hostname());
    t.is(body.pid, process.pid, 'host and pid are kept for people');
    await first.release();
    t.is(await store.get(leaseKey('1-33')), undefined);
    const second = await acquireLease(store, '1-33', 'eksd release (second)', { ttlSeconds: 60 });
    t.not(second.id, first.id);
    await second.release();
  });

  test(`${name}: a lease of another host is respected until the store says it was not renewed for its lifetime; then exactly one of several contenders takes it`, async (t) => {
    const store = await make();
    await store.put(leaseKey('1-33'), foreign({ ttlSeconds: 1 }));
    t.true(isEksdError(await t.throwsAsync(acquireLease(store, '1-33', 'eksd release', { ttlSeconds: 60 })), 'RUN_LOCKED'));
    await sleep(3200); // older than its lifetime plus S3's one-second resolution
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => acquireLease(store, '1-33', `contender ${i}`, { ttlSeconds: 60 })));
    const won = results.filter((r) => r.status === 'fulfilled');
    t.is(won.length, 1, 'exactly one took the expired lease over');
    t.true(results.filter((r) => r.status === 'rejected').every((r) => isEksdError((r as PromiseRejectedResult).reason, 'RUN_LOCKED')));
    await unwrap(won[0]!).release();
  });

  test(`${name}: with the reader's clock 2 x TTL ahead, a lease whose holder keeps renewing is not taken over`, async (t) => {
    const store = await make();
    const ttlSeconds = 3;
    const holder = await acquireLease(store, '1-33', 'eksd release (holder)', { ttlSeconds });
    const ahead = () => Date.now() + 2 * ttlSeconds * 1000;
    for (let i = 0; i < 3; i++) {
      await sleep(1500);
      const e = await t.throwsAsync(acquireLease(store, '1-33', 'eksd release (clock ahead)', { ttlSeconds, now: ahead }));
      t.true(isEksdError(e, 'RUN_LOCKED'), `attempt ${i}: ${String(e)}`);
    }
    holder.assertHeld();
    await holder.release();
  });

  test(`${name}: the holder renews its lease; one taken over behind its back is lost before anything more happens`, async (t) => {
    const store = await make();
    const lease = await acquireLease(store, '1-33', 'eksd release', { ttlSeconds: 3 });
    await sleep(4500);
    lease.assertHeld();
    t.true(isEksdError(await t.throwsAsync(acquireLease(store, '1-33', 'other', { ttlSeconds: 3 })), 'RUN_LOCKED'), 'renewed, so still held');
    await store.put(leaseKey('1-33'), foreign()); // another host took it over
    await sleep(1500);
    const e = t.throws(() => lease.assertHeld());
    t.true(isEksdError(e, 'LEASE_LOST'));
    t.regex(e!.message, /taken over by pid 4242 on build-host-7/);
    await lease.release();
    t.regex((await store.get(leaseKey('1-33')))!.bytes.toString(), /build-host-7/, 'a lost lease is not deleted by its old holder');
  });

  test(`${name}: a lease removed behind the holder's back is lost, and says so`, async (t) => {
    const store = await make();
    const lease = await acquireLease(store, '1-33', 'eksd release', { ttlSeconds: 3 });
    await store.delete(leaseKey('1-33'));
    await sleep(1500);
    const e = t.throws(() => lease.assertHeld());
    t.true(isEksdError(e, 'LEASE_LOST'));
    t.regex(e!.message, /removed by someone else/);
    await lease.release();
  });
}

test('s3: the renewal answered 404 (If-Match on a deleted lease) loses the lease as removed', async (t) => {
  const store = await stores.s3!();
  const lease = await acquireLease(store, '1-90', 'eksd release', { ttlSeconds: 3 });
  s3.failNext({ method: 'PUT', key: /leases\/1-90\.json$/, conditional: true, status: 404, code: 'NoSuchKey' });
  await sleep(1500);
  const e = t.throws(() => lease.assertHeld());
  t.regex(e!.message, /removed by someone else \(the store says the lease object no longer exists\)/);
  await lease.release();
});

test('s3: a renewal that meets a 409 race is retried, and the lease stays held', async (t) => {
  const store = await stores.s3!();
  const lease = await acquireLease(store, '1-91', 'eksd release', { ttlSeconds: 3 });
  s3.failNext({ method: 'PUT', key: /leases\/1-91\.json$/, conditional: true, status: 409, code: 'ConditionalRequestConflict' });
  const before = s3.requests.filter((r) => r.endsWith('leases/1-91.json') && r.startsWith('PUT')).length;
  await sleep(3500);
  lease.assertHeld();
  const puts = s3.requests.filter((r) => r.endsWith('leases/1-91.json') && r.startsWith('PUT')).length - before;
  t.true(puts >= 2, `the renewal was tried again after the conflict (${puts} puts)`);
  await lease.release();
  t.is(await store.get(leaseKey('1-91')), undefined);
});

test('s3: a 409 race on taking the lease is retried, and the lease is taken', async (t) => {
  const store = await stores.s3!();
  s3.failNext({ method: 'PUT', key: /leases\/1-92\.json$/, conditional: true, status: 409, code: 'ConditionalRequestConflict' });
  const lease = await acquireLease(store, '1-92', 'eksd release', { ttlSeconds: 60 });
  t.is(s3.requests.filter((r) => r.endsWith('leases/1-92.json') && r.startsWith('PUT')).length, 2, 'the create was tried again after the conflict');
  t.is(JSON.parse((await store.get(leaseKey('1-92')))!.bytes.toString()).id, lease.id);
  await lease.release();
});

test('dir: a lease whose holder process is gone (same boot and pid namespace) is taken over at once; one of another pid namespace waits for expiry', async (t) => {
  const store = await stores.dir!();
  const me = selfIdentity();
  if (!me) return t.pass('no /proc here: only expiry applies');
  const gone = { ...me, pid: deadPid() };
  t.true(processGone(gone));
  t.false(processGone(me));
  t.true(processGone({ ...me, start: '1' }), 'a pid reused by another process is gone too');
  await store.put(leaseKey('1-33'), foreign({ process: gone }));
  const taken = await acquireLease(store, '1-33', 'eksd release', { ttlSeconds: 60 });
  await taken.release();
  // A container on the same host name with the same (dead-looking) pid: another pid namespace, so no judgement.
  await store.put(leaseKey('1-33'), foreign({ process: { ...gone, pidNamespace: 'pid:[1]' } }));
  t.true(isEksdError(await t.throwsAsync(acquireLease(store, '1-33', 'eksd release', { ttlSeconds: 60 })), 'RUN_LOCKED'));
});

test('dir: expiry is judged by the file\'s age, not by expiresAt on the reader\'s clock', async (t) => {
  const store = await stores.dir!() as DirStore;
  await store.put(leaseKey('1-33'), foreign({ ttlSeconds: 60 }));
  const old = (Date.now() - 120_000) / 1000;
  await utimes(join(store.root, 'leases', '1-33.json'), old, old);
  const lease = await acquireLease(store, '1-33', 'eksd release', { ttlSeconds: 60 });
  await lease.release();
  t.pass();
});

test('a failure to release the lease is a warning beside the outcome, not an error in its place', async (t) => {
  const inner = await stores.dir!();
  let failDelete = false;
  const flaky: Store = { ...inner, where: (k) => inner.where(k), get: (k) => inner.get(k), list: (p) => inner.list(p), put: (k, b, c) => inner.put(k, b, c),
    delete: async (k, c) => { if (failDelete) throw new Error('network down'); return inner.delete(k, c); } };
  const lease = await acquireLease(flaky, '1-33', 'eksd release', { ttlSeconds: 60 });
  failDelete = true;
  const warnings: string[] = [];
  await releaseAfterRun(lease, (m) => warnings.push(m));
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /^warning: LEASE_RELEASE_FAILED: the lease .*leases\/1-33\.json could not be released: network down/);
  t.regex(warnings[0]!, /hint: it expires 60 s after its last renewal/);
});
