/**
 * Benchmark: every supported channel at once, on the full catalog (`npm run bench:channels`).
 *
 *   1. all channels cold (a fresh project and namespace: no build of any channel exists yet);
 *   2. all channels after a base update, against one channel (1-33) after the next base update, on the
 *      same project: target all <= 1.5x one;
 *   3. in every run, platform images built against distinct build keys: target equal (nothing built twice).
 *
 * The times are `eksd release` wall times with the compiled build, as CI runs it; the load average is
 * printed since the machine is shared.
 */
import { loadavg } from 'node:os';
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
    const lines = [
      'bench:channels (full catalog, 7 channels, linux/amd64 + linux/arm64)',
      `  all channels cold: ${secs(cold.ms)}; ${cold.builds} platform builds for ${cold.keys} distinct build keys (target: equal) ${cold.builds === cold.keys ? 'MET' : 'MISSED'}`,
      `  after a base update: all channels ${secs(all.ms)} (${all.builds} builds, ${all.keys} keys) vs channel 1-33 alone ${secs(one.ms)} (${one.builds} builds) = ${ratio.toFixed(2)}x (target <= 1.5x) ${ratio <= 1.5 ? 'MET' : 'MISSED'}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await p.cleanup();
  }
}

await main();
