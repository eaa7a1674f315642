/**
 * Benchmark: full-catalog releases (`eksd release`, local profile, 23 images x 2 platforms, built cold)
 * through a registry fault proxy failing a share of requests (500, 503, 429 with Retry-After, connection
 * reset). Every round is a fresh project with a fresh stand-in upstream revision, so every image really
 * builds and the engine reads every parent through the faults. Prints, per round and in all: completed
 * or not, time, faults injected, requests, announcements written, and the first error of a failed round.
 *
 *   node --import=tsx bench/faults.ts [--rounds 10] [--probability 0.3] [--retry-after 0,1]
 *
 * A round counts as completed when the release exits 0 in one run, wrote exactly one announcement and
 * its Release manifest, and `eksd verify` (with the faults switched off) confirms it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectBehindProxy, startFaultProxy } from '../test/helpers/fault-proxy.ts';
import { makeProject, LOCAL_REGISTRY, type TestProject } from '../test/helpers/project.ts';

const RELEASE = 'kubernetes-1-33-eks-1';
const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '10' }, probability: { type: 'string', default: '0.3' },
  'retry-after': { type: 'string', default: '0,1' }, // seconds a 429 or 503 asks for, drawn per fault
} });
const ROUNDS = Math.max(1, Number(values.rounds));
const PROBABILITY = Number(values.probability);
const RETRY_AFTER = values['retry-after'].split(',');
const log = (line: string): void => { process.stderr.write(`${line}\n`); };
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

interface Round { round: number; completed: boolean; ms: number; announcements: number; manifest: boolean; verified: boolean; faults: number; requests: number; buildsFailed: number; error?: string }

function announcements(p: TestProject): number {
  const dir = join(p.root, 'out', 'announcements');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).length : 0;
}

async function round(n: number): Promise<Round> {
  const proxy = await startFaultProxy({ target: LOCAL_REGISTRY, probability: PROBABILITY, seed: 5000 + n, retryAfter: RETRY_AFTER });
  const p = await makeProject({ catalog: 'full' });
  try {
    await projectBehindProxy(p, proxy.host);
    proxy.resetCounts();
    const started = performance.now();
    const r = await p.eksd(['release', '--events', 'plain'], { timeoutMs: 1_800_000 });
    const ms = performance.now() - started;
    const faults = sum(proxy.injected);
    const requests = sum(proxy.received);
    proxy.setProbability(0);
    const manifest = existsSync(join(p.root, 'out', 'site', 'kubernetes-1-33', `${RELEASE}.yaml`));
    const verified = r.code === 0 && (await p.eksd(['verify', RELEASE])).code === 0;
    const announced = announcements(p);
    const error = r.code === 0 ? undefined : r.stderr.split('\n').find((l) => l.startsWith('eksd release:')) ?? r.stderr.slice(-300);
    return { round: n, completed: r.code === 0 && verified && announced === 1 && manifest, ms, announcements: announced, manifest, verified, faults, requests,
      buildsFailed: (r.stderr.match(/BUILD_FAILED/g) ?? []).length, ...(error ? { error } : {}) };
  } finally {
    await proxy.stop();
    await p.cleanup();
  }
}

async function main(): Promise<void> {
  log(`${ROUNDS} full-catalog releases through a registry failing ${Math.round(PROBABILITY * 100)}% of requests, Retry-After ${RETRY_AFTER.join(' or ')} s (load ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  const rounds: Round[] = [];
  for (let n = 1; n <= ROUNDS; n++) {
    const r = await round(n);
    rounds.push(r);
    log(`round ${n}: ${r.completed ? 'completed' : 'FAILED'} in ${secs(r.ms)}, ${r.faults} faults in ${r.requests} requests, ${r.announcements} announcement(s), manifest ${r.manifest ? 'written' : 'absent'}, verify ${r.verified ? 'ok' : 'not ok'}${r.error ? `\n  ${r.error}` : ''}`);
  }
  const done = rounds.filter((r) => r.completed);
  const times = rounds.map((r) => r.ms).sort((a, b) => a - b);
  console.log(`rounds completed: ${done.length} of ${ROUNDS} at ${Math.round(PROBABILITY * 100)}% faults`);
  console.log(`time per round: median ${secs(times[Math.floor(times.length / 2)]!)}, min ${secs(times[0]!)}, max ${secs(times[times.length - 1]!)}`);
  console.log(`announcements per round: ${rounds.map((r) => r.announcements).join(', ')}`);
  console.log(`faults injected per round: ${rounds.map((r) => r.faults).join(', ')} (of ${rounds.map((r) => r.requests).join(', ')} requests)`);
  console.log(`failed builds: ${rounds.reduce((a, r) => a + r.buildsFailed, 0)}`);
  process.exitCode = done.length === ROUNDS ? 0 : 1;
}

await main();
