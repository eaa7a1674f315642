/**
 * One run per channel: a second `eksd release` for a channel that a live run holds fails at once (exit 4)
 * naming the holder; a lease left by a dead process of this machine (same boot and pid namespace), or not
 * renewed for its lifetime by the store's clock, is taken over, and when several runs find the same stale
 * holder at the same moment exactly one of them gets the lease.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeProject, REPO_ROOT, type TestProject } from './helpers/project.ts';
import { runWithEvents } from './helpers/crash.ts';
import { selfIdentity } from '../pipeline/util/process-identity.ts';

let p: TestProject;
let lockFile: string;

test.before(async () => {
  p = await makeProject({ catalog: 'mini' });
  await p.seed();
  lockFile = join(p.config().stateDir, 'leases', '1-33.json');
});

test.after.always(async () => { await p?.cleanup(); });

/** A lease record; `local` names the holder process as this machine sees it (boot, pid namespace, start time). */
function leaseRecord(holder: { pid: number; host?: string; local?: boolean }): string {
  const me = selfIdentity();
  return JSON.stringify({ id: `test-${holder.pid}`, pid: holder.pid, host: holder.host ?? hostname(), command: 'eksd release (test)',
    startedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 600_000).toISOString(), ttlSeconds: 600,
    ...(holder.local && me ? { process: { ...me, pid: holder.pid, start: holder.pid === process.pid ? me.start : '1' } } : {}) });
}

/** Writes the lease; `ageSeconds` backdates it (its mtime is what the directory store calls its age). */
function writeLock(holder: { pid: number; host?: string; local?: boolean; ageSeconds?: number }): void {
  mkdirSync(join(p.config().stateDir, 'leases'), { recursive: true });
  writeFileSync(lockFile, leaseRecord(holder));
  if (holder.ageSeconds) {
    const then = Date.now() / 1000 - holder.ageSeconds;
    utimesSync(lockFile, then, then);
  }
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid;
}

test.serial('a second release for the same channel fails at once with exit 4, naming the running one', async (t) => {
  let second: Promise<{ code: number | null; stderr: string; ms: number }> | undefined;
  let plan: ReturnType<TestProject['eksd']> | undefined;
  const first = await runWithEvents(p, ['release'], {
    onEvent: (e, pid) => {
      // The lock is taken before artifacts are resolved: from here on the first run holds it. It is
      // paused (SIGSTOP) until the others are done, so it still holds the lock however slow they start.
      if (second || e.type !== 'stage' || e.stage !== 'resolve' || e.state !== 'started') return;
      process.kill(pid, 'SIGSTOP');
      t.teardown(() => { try { process.kill(pid, 'SIGCONT'); } catch { /* already gone */ } });
      const t0 = Date.now();
      second = p.eksd(['release']).then((r) => ({ ...r, ms: Date.now() - t0 }));
      plan = p.eksd(['plan']);
      void Promise.allSettled([second, plan]).then(() => process.kill(pid, 'SIGCONT'));
    },
  });
  t.is(first.code, 0, first.stderr);
  t.truthy(second, 'the first run reached the resolve stage');
  const r = await second!;
  t.is(r.code, 4, r.stderr);
  t.regex(r.stderr, new RegExp(`channel 1-33 is locked by pid ${first.pid} on ${hostname()}`));
  t.regex(r.stderr, /hint: wait for that run to finish/);
  t.log(`refused after ${r.ms} ms (process start included); the first run took ${first.ms} ms`);
  t.true(r.ms < 20_000, 'fails fast, without waiting for the holder');
  t.is((await plan!).code, 0, 'eksd plan does not need the lock');
  t.false(existsSync(lockFile), 'the first run released the lock');
});

test.serial('a lock held by a live process, or by one on another host, is respected', async (t) => {
  writeLock({ pid: process.pid, local: true });
  const live = await p.eksd(['release']);
  t.is(live.code, 4, live.stderr);
  t.regex(live.stderr, new RegExp(`locked by pid ${process.pid} `));
  writeLock({ pid: deadPid(), host: 'some-other-host' });
  const foreign = await p.eksd(['release']);
  t.is(foreign.code, 4, foreign.stderr);
  t.regex(foreign.stderr, /on some-other-host/);
  t.true(existsSync(lockFile), 'neither lock was removed');
  await rm(lockFile);
});

test.serial('a lease of another host not renewed for its lifetime (by the store\'s clock) is taken over', async (t) => {
  writeLock({ pid: 1, host: 'some-other-host', ageSeconds: 700 });
  const r = await p.eksd(['release']);
  t.is(r.code, 0, r.stderr);
  t.false(existsSync(lockFile), 'the lease was taken over and released');
});

test.serial('a stale lock (a dead process of this machine) is taken over', async (t) => {
  const dead = deadPid();
  writeLock({ pid: dead, local: true });
  const r = await p.eksd(['release']);
  t.is(r.code, 0, r.stderr);
  t.false(existsSync(lockFile), 'the lock was taken over and released');
});

test('several runs finding the same stale lock: exactly one holds it at a time', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eksd-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const script = join(dir, 'taker.mts');
  writeFileSync(script, [
    `import { acquireLease } from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'pipeline/store/lease.ts')).href)};`,
    `import { DirStore } from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'pipeline/store/dir.ts')).href)};`,
    'const [stateDir, startAt] = process.argv.slice(2);',
    'while (Date.now() < Number(startAt)) await new Promise((r) => setTimeout(r, 1));',
    'try {',
    '  const lock = await acquireLease(new DirStore(stateDir), "1-33", `taker ${process.pid}`, { ttlSeconds: 60 });',
    '  const from = Date.now();',
    '  await new Promise((r) => setTimeout(r, 800));',
    '  console.log(JSON.stringify({ from, to: Date.now() }));',
    '  await lock.release();',
    '} catch (e) { if (e.code !== "RUN_LOCKED") throw e; console.log("{}"); }',
  ].join('\n'));
  for (let round = 0; round < 4; round++) {
    const stateDir = join(dir, `state-${round}`);
    mkdirSync(join(stateDir, 'leases'), { recursive: true });
    writeFileSync(join(stateDir, 'leases', '1-33.json'), leaseRecord({ pid: deadPid(), local: true }));
    const startAt = Date.now() + 3000;
    const outputs = await Promise.all(Array.from({ length: 6 }, () => new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import=tsx', script, stateDir, String(startAt)], { cwd: REPO_ROOT });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
    })));
    const held = outputs.map((o) => JSON.parse(o.trim()) as { from?: number; to?: number }).filter((h) => h.from !== undefined)
      .sort((a, b) => a.from! - b.from!);
    t.true(held.length >= 1, `round ${round}: someone took the stale lock over`);
    for (let i = 1; i < held.length; i++) t.true(held[i]!.from! >= held[i - 1]!.to!, `round ${round}: two processes held the lock at once`);
    t.false(existsSync(join(stateDir, 'leases', '1-33.json')), 'released');
  }
});
