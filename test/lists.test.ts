/**
 * The stage lists and the loop that runs them, without the engine: each flow's stage order and the stage
 * that opens its run; the lease taken once by the loop, before that stage, and released however the list
 * ends (done, failed, stopped); the run number handed to the stages as input; how the list ended, and
 * each list's outcome read from it.
 */
import test from 'ava';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEksdError } from '../pipeline/errors.ts';
import { runStages, type LeaseRequest, type LoopEnd } from '../pipeline/app/loop.ts';
import { StopRequest } from '../pipeline/app/stop.ts';
import { releaseOutcome, releaseStages, UNTIL, type ReleaseEnv } from '../pipeline/stages/lists/release.ts';
import { republishStages, type RepublishEnv } from '../pipeline/stages/lists/republish.ts';
import { announceStages, markSentStages, type AnnounceEnv } from '../pipeline/stages/lists/announce.ts';
import { retireStages, retirementOf, type RetireEnv } from '../pipeline/stages/lists/retire.ts';
import { stage, type Stage } from '../pipeline/stages/stage.ts';
import { acquireLease, leaseKey } from '../pipeline/store/lease.ts';
import { DirStore } from '../pipeline/store/dir.ts';
import type { Condition, Body } from '../pipeline/store/store.ts';

const names = (stages: ReadonlyArray<{ name: string }>) => stages.map((s) => s.name);
const opener = (stages: ReadonlyArray<{ name: string; opensRun?: boolean }>) => stages.filter((s) => s.opensRun).map((s) => s.name);

test('RELEASE: stage order; the run opens before resolve; --until maps to its stages', (t) => {
  const stages = releaseStages({ config: { channel: '1-33' } } as unknown as ReleaseEnv);
  t.deepEqual(names(stages), ['catalog', 'resolve', 'plan', 'decide', 'repositories', 'build', 'compare', 'tags', 'attest', 'release', 'verify', 'pointers', 'announce', 'pin']);
  t.deepEqual(opener(stages), ['resolve']);
  t.deepEqual(stages.filter((s) => s.dry).map((s) => s.name), ['catalog', 'resolve', 'plan', 'decide'], 'a dry run stops before the first stage with side effects');
  t.deepEqual(Object.values(UNTIL).filter((s) => !names(stages).includes(s)), []);
});

test('REPUBLISH: stage order, announce only when asked; the run opens before locate', (t) => {
  const env = { release: { metadata: { name: 'kubernetes-1-33-eks-1' } } } as unknown as RepublishEnv;
  t.deepEqual(names(republishStages(env)), ['locate', 'repositories', 'copy', 'mirror', 'verify', 'record']);
  t.deepEqual(names(republishStages({ ...env, announce: true })), ['locate', 'repositories', 'copy', 'mirror', 'verify', 'record', 'announce']);
  t.deepEqual(opener(republishStages(env)), ['locate']);
});

test('ANNOUNCE: served, verify, announce; the run opens before served; MARK_SENT is one stage under the lease', (t) => {
  const stages = announceStages({} as AnnounceEnv);
  t.deepEqual(names(stages), ['served', 'verify', 'announce']);
  t.deepEqual(opener(stages), ['served']);
  t.deepEqual(stages.filter((s) => s.dry).map((s) => s.name), ['served'], 'a dry run announces nothing');
  t.deepEqual(names(markSentStages({ name: 'kubernetes-1-33-eks-1', stores: {} as never, dryRun: false })), ['mark-sent']);
  t.deepEqual(opener(markSentStages({ name: 'kubernetes-1-33-eks-1', stores: {} as never, dryRun: false })), ['mark-sent']);
});

test('RETIRE: read the latest release, then under the lease mark the channel inactive and announce once', (t) => {
  const stages = retireStages({ channel: { name: '1-32', active: false, retired: '2026-12-01' } } as unknown as RetireEnv);
  t.deepEqual(names(stages), ['latest', 'inactive', 'announce']);
  t.deepEqual(opener(stages), ['inactive']);
  t.deepEqual(stages.filter((s) => s.dry).map((s) => s.name), ['latest']);
});

test('the release outcome is read from how the list ended', (t) => {
  const cases: Array<[LoopEnd, ReturnType<typeof releaseOutcome>]> = [[{ by: 'end' }, 'released'], [{ by: 'dry-run' }, 'planned'], [{ by: 'stage', stage: 'compare' }, 'unchanged'],
    [{ by: 'until', stage: 'verify' }, 'stopped']];
  for (const [end, state] of cases) t.is(releaseOutcome(end), state, JSON.stringify(end));
});

test('the retirement outcome is read from how the list ended', (t) => {
  const announce = { messageId: 'm', skipped: false, via: 'outbox' };
  t.like(retirementOf({ by: 'stage', stage: 'latest' }, { latest: { released: false, latestRelease: 0 } }), { state: 'never-released' });
  t.like(retirementOf({ by: 'dry-run' }, { latest: { released: true, latestRelease: 4 } }), { state: 'to-retire', latestRelease: 4 });
  t.like(retirementOf({ by: 'end' }, { latest: { released: true, latestRelease: 4 }, announce }), { state: 'retired', latestRelease: 4 });
  t.like(retirementOf({ by: 'end' }, { latest: { released: true, latestRelease: 4 }, announce: { ...announce, skipped: true } }), { state: 'already-retired' });
});

/** A state store that counts the writes that create a lease. */
class CountingStore extends DirStore {
  leasesTaken = 0;
  override async put(key: string, body: Body, condition: Condition = {}): Promise<string> {
    if (key === leaseKey('1-33') && condition.ifNoneMatch) this.leasesTaken++;
    return super.put(key, body, condition);
  }
}

interface Out { before: string; opens: number; after: string; last: string }
interface Run { number: number }

function fixture() {
  const store = new CountingStore(mkdtempSync(join(tmpdir(), 'eksd-lists-')));
  const leaseFile = join(store.where(''), leaseKey('1-33'));
  const lease: LeaseRequest = { store, channel: '1-33', command: 'eksd test', ttlSeconds: 60 };
  const seen: Array<{ stage: string; held: boolean; number?: number; leaseId?: string }> = [];
  const look = (name: string, run?: { number?: number; lease?: { id: string } }) => seen.push({ stage: name, held: existsSync(leaseFile),
    ...(run?.number !== undefined ? { number: run.number } : {}), ...(run?.lease ? { leaseId: run.lease.id } : {}) });
  const stages = (o: { failAt?: keyof Out; stopAfterOpen?: boolean } = {}): Array<Stage<Out, keyof Out, Run>> => {
    const step = <K extends keyof Out>(name: K, value: Out[K], extra: Partial<Stage<Out, K, Run>> = {}) => stage<Out, K, Run>(name, async ({ run }) => {
      look(name, run);
      if (o.failAt === name) throw new Error(`${name} failed`);
      return value;
    }, extra);
    return [step('before', 'x', { dry: true }), step('opens', 1, { opensRun: true, dry: true }), step('after', 'y', { stopsIf: () => o.stopAfterOpen === true }), step('last', 'z')];
  };
  return { store, leaseFile, lease, seen, stages };
}

test('the loop takes the lease once, before the stage that opens the run, hands the run number to the stages, and releases it at the end', async (t) => {
  const f = fixture();
  const closed: Array<{ end: LoopEnd; held: boolean }> = [];
  const r = await runStages(f.stages(), { emit: () => {}, lease: f.lease,
    open: async () => ({ recorded: {}, run: { number: 7 }, close: async (end) => { closed.push({ end, held: existsSync(f.leaseFile) }); } }) });
  t.deepEqual(f.seen.map(({ stage: s, held, number }) => ({ stage: s, held, ...(number !== undefined ? { number } : {}) })), [
    { stage: 'before', held: false }, { stage: 'opens', held: true, number: 7 }, { stage: 'after', held: true, number: 7 }, { stage: 'last', held: true, number: 7 }]);
  t.is(new Set(f.seen.filter((s) => s.leaseId).map((s) => s.leaseId)).size, 1, 'one lease, handed to every stage from the opener on');
  t.is(f.store.leasesTaken, 1);
  t.deepEqual(r.end, { by: 'end' });
  t.deepEqual(r.run, { number: 7 });
  t.deepEqual(closed, [{ end: { by: 'end' }, held: true }], 'the run is closed while the lease is still held');
  t.false(existsSync(f.leaseFile), 'released at the end');
});

test('a stage that fails: the lease is released, the run is not closed', async (t) => {
  const f = fixture();
  let closed = false;
  const e = await t.throwsAsync(runStages(f.stages({ failAt: 'after' }), { emit: () => {}, lease: f.lease,
    open: async () => ({ recorded: {}, run: { number: 3 }, close: async () => { closed = true; } }) }));
  t.is(e.message, 'after failed');
  t.deepEqual(f.seen.map((s) => s.stage), ['before', 'opens', 'after']);
  t.false(closed);
  t.false(existsSync(f.leaseFile), 'released after the failure');
  t.is(f.store.leasesTaken, 1);
});

test('a stop asked for (SIGTERM) and a stage\'s own stop condition: the lease is released; the end says why', async (t) => {
  const f = fixture();
  const stop = new StopRequest();
  const e = await t.throwsAsync(runStages(f.stages(), { emit: (ev) => { if (ev.type === 'stage' && ev.stage === 'opens' && ev.state === 'finished') stop.request('SIGTERM'); },
    lease: f.lease, stop }));
  t.true(isEksdError(e, 'RUN_INTERRUPTED'), e.message);
  t.regex(e.message, /before the after stage/);
  t.false(existsSync(f.leaseFile), 'released after the stop');

  const g = fixture();
  const r = await runStages(g.stages({ stopAfterOpen: true }), { emit: () => {}, lease: g.lease });
  t.deepEqual(r.end, { by: 'stage', stage: 'after' });
  t.is(r.out.last, undefined);
  t.false(existsSync(g.leaseFile));
});

test('--until and a dry run: the end says so; a dry run opens the run (its number) but takes no lease', async (t) => {
  const f = fixture();
  const until = await runStages(f.stages(), { emit: () => {}, lease: f.lease, until: 'after', open: async () => ({ recorded: {}, run: { number: 2 } }) });
  t.deepEqual(until.end, { by: 'until', stage: 'after' });
  const last = await runStages(f.stages(), { emit: () => {}, lease: f.lease, until: 'last' });
  t.deepEqual(last.end, { by: 'end' }, 'until the last stage is the end');

  const g = fixture();
  const dry = await runStages(g.stages(), { emit: () => {}, lease: g.lease, dryRun: true, open: async () => ({ recorded: {}, run: { number: 5 } }) });
  t.deepEqual(dry.end, { by: 'dry-run' });
  t.deepEqual(g.seen.map((s) => s.stage), ['before', 'opens']);
  t.is(g.seen[1]!.number, 5);
  t.is(g.seen[1]!.leaseId, undefined);
  t.is(g.store.leasesTaken, 0);
});

test('a lease held by another run: RUN_LOCKED before the stage that opens the run; the other run keeps it', async (t) => {
  const f = fixture();
  const other = await acquireLease(f.store, '1-33', 'another eksd release', { ttlSeconds: 60 });
  try {
    const e = await t.throwsAsync(runStages(f.stages(), { emit: () => {}, lease: f.lease }));
    t.true(isEksdError(e, 'RUN_LOCKED'), e.message);
    t.deepEqual(f.seen.map((s) => s.stage), ['before']);
    t.true(existsSync(f.leaseFile), 'not ours to release');
    t.notThrows(() => other.assertHeld());
  } finally {
    await other.release();
  }
});
