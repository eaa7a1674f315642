/**
 * The channel lease on both stores (directory, S3 through the stand-in): one holder at a time, renewed
 * while its run lives, taken over once expired by exactly one of several contenders, and a holder that
 * lost it learns so before it could announce.
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { isEksdError } from '../pipeline/errors.ts';
import { acquireLease, leaseKey } from '../pipeline/store/lease.ts';
import { bothStores } from './helpers/stores.ts';

const { adapters: stores } = bothStores('state');

const foreign = (expiresInMs: number) => JSON.stringify({ id: 'other', host: 'build-host-7', pid: 4242, command: 'eksd release', startedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + expiresInMs).toISOString() });

for (const [name, make] of Object.entries(stores)) {
  test(`${name}: a live lease refuses a second holder, naming the first; released, it can be taken`, async (t) => {
    const store = await make();
    const first = await acquireLease(store, '1-33', 'eksd release (first)', { ttlSeconds: 60 });
    const e = await t.throwsAsync(acquireLease(store, '1-33', 'eksd release (second)', { ttlSeconds: 60 }));
    t.true(isEksdError(e, 'RUN_LOCKED'));
    t.regex(e!.message, /locked by pid \d+ on .*eksd release \(first\)/);
    await first.release();
    t.is(await store.get(leaseKey('1-33')), undefined);
    const second = await acquireLease(store, '1-33', 'eksd release (second)', { ttlSeconds: 60 });
    await second.release();
  });

  test(`${name}: a lease of another host is respected until it expires; then exactly one of several contenders takes it`, async (t) => {
    const store = await make();
    await store.put(leaseKey('1-33'), foreign(60_000));
    t.true(isEksdError(await t.throwsAsync(acquireLease(store, '1-33', 'eksd release', { ttlSeconds: 60 })), 'RUN_LOCKED'));
    await store.put(leaseKey('1-33'), foreign(-1000));
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => acquireLease(store, '1-33', `contender ${i}`, { ttlSeconds: 60 })));
    const won = results.filter((r) => r.status === 'fulfilled');
    t.is(won.length, 1, 'exactly one took the expired lease over');
    t.true(results.filter((r) => r.status === 'rejected').every((r) => isEksdError((r as PromiseRejectedResult).reason, 'RUN_LOCKED')));
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLease>>>).value.release();
  });

  test(`${name}: the holder renews its lease; one taken over behind its back is lost before anything more happens`, async (t) => {
    const store = await make();
    const lease = await acquireLease(store, '1-33', 'eksd release', { ttlSeconds: 3 });
    await sleep(4500);
    lease.assertHeld();
    t.true(isEksdError(await t.throwsAsync(acquireLease(store, '1-33', 'other', { ttlSeconds: 3 })), 'RUN_LOCKED'), 'renewed, so still held');
    await store.put(leaseKey('1-33'), foreign(60_000)); // another host took it over
    await sleep(1500);
    const e = t.throws(() => lease.assertHeld());
    t.true(isEksdError(e, 'LEASE_LOST'));
    t.regex(e!.message, /taken over by pid 4242 on build-host-7/);
    await lease.release();
    t.regex((await store.get(leaseKey('1-33')))!.bytes.toString(), /build-host-7/, 'a lost lease is not deleted by its old holder');
  });
}
