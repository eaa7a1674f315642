/** The local environment: idempotent up, status, and a down that stops exactly what up started. */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_ENV, envDown, envStatus, envUp, type EnvLayout } from '../dev/env/local.ts';
import { freePort } from './helpers/registry.ts';

/** Pids of processes whose command line mentions `text`. */
function processesOn(text: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', text], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

test.serial('a second `env up` while everything runs is a fast no-op', async (t) => {
  await envUp();
  const started = Date.now();
  const status = await envUp();
  const ms = Date.now() - started;
  t.log(`second up: ${ms} ms`);
  t.true(ms < 2000, `${ms} ms`);
  t.deepEqual(status.map((s) => [s.name, s.running]), [['dockerd', true], ['registry', true], ['binfmt', true]]);
});

test.serial('a separate environment comes up on its own socket and port, and down leaves none of its processes', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'eksd-env-'));
  const layout: EnvLayout = { root, dockerSocket: join(root, 'run', 'docker.sock'), registryAddress: `127.0.0.1:${await freePort()}` };
  t.teardown(async () => { await envDown(layout); rmSync(root, { recursive: true, force: true }); });
  // Two callers at once (test files start in parallel): one starts the services, the other waits.
  const [up, again] = await Promise.all([envUp(layout), envUp(layout)]);
  t.true(up.every((s) => s.running) && again.every((s) => s.running), JSON.stringify([up, again]));
  t.is(processesOn(layout.dockerSocket).length, 1, 'one dockerd on the socket');
  const pids = ['dockerd', 'registry'].map((n) => Number(readFileSync(join(root, `${n}.pid`), 'utf8')));
  t.true(pids.every(alive));
  const stopped = await envDown(layout);
  t.deepEqual(stopped.sort(), ['dockerd', 'registry']);
  t.false(pids.some(alive), 'no process of ours is left');
  t.deepEqual(processesOn(root), [], 'nothing else was started behind the recorded pids');
  t.false(existsSync(join(root, 'dockerd.pid')));
  const status = await envStatus(layout);
  t.false(status.find((s) => s.name === 'registry')!.running);
  t.false(status.find((s) => s.name === 'dockerd')!.running);
  // The shared environment is untouched.
  t.true((await envStatus(DEFAULT_ENV)).every((s) => s.running));
});
