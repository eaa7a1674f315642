/**
 * Benchmark: every supported channel at once, on the full catalog (`npm run bench:channels`).
 *
 *   1. all channels cold (a fresh project and namespace: no build of any channel exists yet);
 *   2. all channels after a base update, against one channel (1-33) after the next base update, on the
 *      same project: target all <= 1.5x one;
 *   3. in every run, platform images built against distinct build keys: target equal (nothing built twice);
 *   4. the split run after the next base update: an amd64 job on the default engine and an arm64 job on a
 *      second dockerd (its own socket and data root, standing in for an arm64 machine) at once, then the
 *      merge; against step 2 (one machine, the same kind of input change), with each engine's build time.
 *      Both engines share this machine's two cores, so the split cannot be faster here: it shows what the
 *      split costs and what each machine would do.
 *
 * The times are `eksd release` wall times with the compiled build, as CI runs it; the load average is
 * printed since the machine is shared.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { envDown, envUp, type EnvLayout } from '../dev/env/local.ts';
import { freePort } from '../test/helpers/registry.ts';
import { makeProject, type TestProject } from '../test/helpers/project.ts';
import { runWithEvents } from '../test/helpers/crash.ts';
import type { RunEvent } from '../pipeline/stages/events.ts';

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');
const log = (line: string): void => { process.stderr.write(`${line}\n`); };

interface Outcome { ms: number; builds: number; keys: number; released: number; channels: number }

async function release(p: TestProject, label: string, args: string[] = []): Promise<Outcome> {
  const r = await runWithEvents(p, ['release', '--json', ...args], { timeoutMs: 3_600_000 });
  if (r.code !== 0) throw new Error(`eksd release (${label}) exited ${r.code}:\n${r.stderr.slice(-4000)}`);
  const out = JSON.parse(r.stdout) as { channels?: Array<{ state: string; images?: Array<{ platforms: Record<string, { built: boolean }> }> }> } & { state?: string };
  const channels = out.channels ?? [out as { state: string }];
  const builds = r.events.filter((e: RunEvent) => e.type === 'image' && e.state === 'building');
  const outcome = { ms: r.ms, builds: builds.length, keys: distinctKeys(r.events), released: channels.filter((c) => c.state === 'released').length, channels: channels.length };
  log(`${label}: ${secs(outcome.ms)}, ${outcome.released} of ${outcome.channels} channels released, ${outcome.builds} platform builds, ${outcome.keys} distinct build keys (load ${load()})`);
  return outcome;
}

/** Distinct build keys among the builds: the pushed platform manifests each build made, by image and digest. */
function distinctKeys(events: RunEvent[]): number {
  return new Set(events.filter((e) => e.type === 'image' && e.state === 'pushed').map((e) => (e.type === 'image' ? e.detail : ''))).size;
}

async function baseUpdate(p: TestProject): Promise<void> {
  await p.seed({ update: true });
  const w = await p.eksd(['watch-base', '--write']);
  if (w.code !== 10) throw new Error(`watch-base did not see the update: ${w.code} ${w.stderr}`);
}

/** Build time (build and push) of a run's platform images, by platform. */
function buildMsBy(events: RunEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) if (e.type === 'image' && e.state === 'pushed' && e.platform) out[e.platform] = (out[e.platform] ?? 0) + (e.ms ?? 0);
  return out;
}

interface Split { ms: number; jobsMs: number; mergeMs: number; buildMs: Record<string, number>; builds: number }

/** Both platform jobs at once (as two machines would run them), then the merge; all channels, four at once. */
async function splitRelease(p: TestProject, arm64Engine: string): Promise<Split> {
  const started = performance.now();
  const id = (await p.eksd(['plan-id'])).stdout.trim();
  const jobs = await Promise.all([
    runWithEvents(p, ['build', '--platform', 'linux/amd64', '--json'], { timeoutMs: 3_600_000 }),
    runWithEvents(p, ['build', '--platform', 'linux/arm64', '--json'], { timeoutMs: 3_600_000, env: { EKSD_ENGINE_ARM64: `unix://${arm64Engine}` } }),
  ]);
  for (const j of jobs) if (j.code !== 0) throw new Error(`a split job exited ${j.code}:\n${j.stderr.slice(-4000)}`);
  const jobsMs = performance.now() - started;
  const merge = await runWithEvents(p, ['release', '--merge', id, '--channels-at-once', '4', '--json'], { timeoutMs: 3_600_000 });
  if (merge.code !== 0) throw new Error(`the merge exited ${merge.code}:\n${merge.stderr.slice(-4000)}`);
  const ms = performance.now() - started;
  const events = jobs.flatMap((j) => j.events);
  const split = { ms, jobsMs, mergeMs: ms - jobsMs, buildMs: buildMsBy(events), builds: events.filter((e) => e.type === 'image' && e.state === 'building').length };
  log(`split (${id}): ${secs(ms)}: both jobs ${secs(jobsMs)}, merge ${secs(split.mergeMs)}; ${split.builds} platform builds (load ${load()})`);
  return split;
}

/** A second Docker engine (own socket and data root) for the arm64 job; stopped, and its folder removed, by `stop`. */
async function secondEngine(): Promise<{ layout: EnvLayout; stop: () => Promise<void> }> {
  const root = mkdtempSync(join(tmpdir(), 'eksd-bench-arm64-'));
  const layout: EnvLayout = { root, dockerSocket: join(root, 'run', 'docker.sock'), registryAddress: `127.0.0.1:${await freePort()}` };
  await envUp(layout);
  return { layout, stop: async () => { await envDown(layout); rmSync(root, { recursive: true, force: true }); } };
}

async function main(): Promise<void> {
  const p = await makeProject({ catalog: 'full', allChannels: true });
  try {
    await p.seed();
    await p.eksd(['watch-base', '--write']);
    const cold = await release(p, 'all channels cold (four at once)', ['--channels-at-once', '4']);
    await baseUpdate(p);
    const all = await release(p, 'all channels after a base update (four at once)', ['--channels-at-once', '4']);
    await baseUpdate(p);
    const one = await release(p, 'channel 1-33 alone after a base update', ['--channel', '1-33']);
    const ratio = all.ms / one.ms;
    await baseUpdate(p);
    const engine = await secondEngine();
    let split: Split;
    try { split = await splitRelease(p, engine.layout.dockerSocket); } finally { await engine.stop(); }
    const lines = [
      'bench:channels (full catalog, 7 channels, linux/amd64 + linux/arm64)',
      `  all channels cold: ${secs(cold.ms)}; ${cold.builds} platform builds for ${cold.keys} distinct build keys (target: equal) ${cold.builds === cold.keys ? 'MET' : 'MISSED'}`,
      `  after a base update: all channels ${secs(all.ms)} (${all.builds} builds, ${all.keys} keys) vs channel 1-33 alone ${secs(one.ms)} (${one.builds} builds) = ${ratio.toFixed(2)}x (target <= 1.5x) ${ratio <= 1.5 ? 'MET' : 'MISSED'}`,
      `  split after a base update (amd64 job on the default engine, arm64 job on a second engine, at once; then the merge): ${secs(split.ms)} `
        + `(jobs ${secs(split.jobsMs)}, merge ${secs(split.mergeMs)}) vs one machine ${secs(all.ms)} = ${(split.ms / all.ms).toFixed(2)}x; build time per engine: `
        + `default (amd64) ${secs(split.buildMs['linux/amd64'] ?? 0)}, second (arm64) ${secs(split.buildMs['linux/arm64'] ?? 0)}; ${split.builds} builds`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await p.cleanup();
  }
}

await main();
