/**
 * Benchmark: what signing and attesting costs. Two fresh full-catalog projects, alike but for signing
 * (EKSD_SIGNING=off, and the local key): a cold release of each up to the release stage (so the signed one
 * attests every image), then an AL2 update of each, released again. Reports the cold time with and
 * without attestations (target: at most 10% more), and the registry requests the attestations add per
 * platform image rebuilt by the update (the difference of the two projects' request counts).
 *
 *   npm run bench:attest      (also the last part of npm run bench:build)
 *
 * The runs alternate (off, on, then on, off for the update) so a drift in the machine's load falls on
 * both. Every run goes through a counting proxy in front of the local registry.
 */
import { randomInt } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadPin } from '../pipeline/catalog/load.ts';
import { RegistryClient } from '../pipeline/registry/index.ts';
import { splitReference, writePin } from '../pipeline/resolve/base.ts';
import { DEFAULT_ENV, envUp } from '../dev/env/local.ts';
import { seedStandinBase } from '../dev/env/standin-base.ts';
import { startFaultProxy, type FaultProxy } from '../test/helpers/fault-proxy.ts';
import { makeProject, LOCAL_REGISTRY, type TestProject } from '../test/helpers/project.ts';

const log = (line: string): void => { process.stderr.write(`${line}\n`); };
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

interface Outcome { ms: number; requests: number; built: number; attestMs: number }

async function project(proxy: FaultProxy, signing: boolean): Promise<TestProject> {
  const p = await makeProject({ catalog: 'full' });
  const file = parse(readFileSync(p.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(p.configFile, stringify({ ...file, imageRepo: `${proxy.host}/${p.ns}/eks-distro`, baseImageRepo: `${proxy.host}/${p.ns}/eks-distro-build-tooling`,
    ...(signing ? {} : { signing: { kind: 'off' } }) }));
  await p.seed();
  await baseUpdate(p);
  return p;
}

/** An AL2 revision nobody else has, pinned: nothing in any cache matches it. */
async function baseUpdate(p: TestProject): Promise<void> {
  const { registry, repository, tag } = splitReference(loadPin(p.config().basePin).reference);
  await writePin(p.config().basePin, await seedStandinBase(new RegistryClient({ registry }), repository, tag, 1000 + randomInt(1_000_000_000), join(DEFAULT_ENV.root, 'busybox')));
}

async function release(p: TestProject, proxy: FaultProxy, label: string, number: number): Promise<Outcome> {
  rmSync(join(p.config().stateDir, 'runs'), { recursive: true, force: true });
  proxy.resetCounts();
  log(`== ${label} (load ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  const started = performance.now();
  const r = await p.eksd(['release', '--until', 'verify', '--number', String(number), '--json', '--events', 'plain'], { timeoutMs: 3_600_000 });
  const ms = performance.now() - started;
  if (r.code !== 0) throw new Error(`${label}: eksd release exited ${r.code}:\n${r.stderr.slice(-4000)}`);
  const images = (JSON.parse(r.stdout) as { images: Array<{ platforms: Record<string, { built: boolean }> }> }).images;
  const built = images.flatMap((i) => Object.values(i.platforms)).filter((x) => x.built).length;
  const attestMs = Number(/ ok attest[^\n]*\(([\d.]+)s\)$/m.exec(r.stderr)?.[1] ?? 0) * 1000;
  log(`   ${secs(ms)}, ${built} platform images built, attest ${secs(attestMs)}, ${total(proxy.received)} registry requests`);
  return { ms, requests: total(proxy.received), built, attestMs };
}

export async function benchAttestations(): Promise<string[]> {
  await envUp(undefined, log);
  const proxy = await startFaultProxy({ target: LOCAL_REGISTRY, probability: 0 });
  const projects: TestProject[] = [];
  try {
    const [off, on] = [await project(proxy, false), await project(proxy, true)];
    projects.push(off, on);
    const coldOff = await release(off, proxy, 'cold, no attestations', 1);
    const coldOn = await release(on, proxy, 'cold, signed and attested', 1);
    await baseUpdate(on);
    await baseUpdate(off);
    const updateOn = await release(on, proxy, 'AL2 update, signed and attested', 2);
    const updateOff = await release(off, proxy, 'AL2 update, no attestations', 2);
    const more = coldOn.ms / coldOff.ms - 1;
    const perImage = (updateOn.requests - updateOff.requests) / Math.max(1, updateOn.built);
    return [
      '', 'Attestations (signature, SBOM, provenance per platform image; signature per index), full catalog:',
      `  cold release up to verify: ${secs(coldOff.ms)} without, ${secs(coldOn.ms)} with (attest stage ${secs(coldOn.attestMs)}): ${(more * 100).toFixed(1)}% more (target <= 10%: ${more <= 0.1 ? 'met' : 'MISSED'})`,
      `  AL2 update: ${updateOn.built} platform images rebuilt; ${updateOff.requests} registry requests without, ${updateOn.requests} with: ${perImage.toFixed(1)} requests per rebuilt image added (attest stage ${secs(updateOn.attestMs)})`,
    ];
  } finally {
    await proxy.stop();
    for (const p of projects) await p.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${(await benchAttestations()).join('\n')}\n`);
}
