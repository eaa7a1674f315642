/**
 * Copy benchmark: our registry client against `skopeo copy --all`, measured in the same run.
 *
 *   npm run bench:copy -- [--rounds 5] [--fault-rounds 5] [--layer-mb 7] [--layers 4] [--fault-rate 0.3]
 *
 * Builds a deterministic two-arch OCI index (incompressible layers, >= 50 MB in all), pushes it to a
 * throwaway registry, then per round copies it (1) to a fresh repository of the same registry and
 * (2) to a fresh registry, once with each tool (alternating which goes first), and prints medians and
 * the ratio skopeo/ours (> 1 means ours is faster). Then the same through fault proxies injecting 30%
 * faults, reporting completed rounds per tool. One untimed warm-up copy per tool comes first.
 *
 * Where the time goes: on this machine the copy is CPU-bound (two registries and the copier on two
 * cores), so each round also records the CPU time of the source registry, the destination registry and
 * the copier (this process for ours, the skopeo child for skopeo), read from /proc.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { copy, RegistryClient } from '../pipeline/registry/index.ts';
import { startFaultProxy, type FaultProxy } from '../test/helpers/fault-proxy.ts';
import { buildIndex, pushTestImage, startRegistry, type RunningRegistry, type TestIndex } from '../test/helpers/registry.ts';

interface Args { rounds: number; faultRounds: number; layerMb: number; layers: number; faultRate: number }

function parseArgs(argv: string[]): Args {
  const a: Args = { rounds: 5, faultRounds: 5, layerMb: 7, layers: 4, faultRate: 0.3 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], Number(argv[i + 1])];
    if (!Number.isFinite(value)) throw new Error(`flag ${flag} needs a number`);
    if (flag === '--rounds') a.rounds = value;
    else if (flag === '--fault-rounds') a.faultRounds = value;
    else if (flag === '--layer-mb') a.layerMb = value;
    else if (flag === '--layers') a.layers = value;
    else if (flag === '--fault-rate') a.faultRate = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  return a;
}

interface Cpu { source: number; destination: number; copier: number }
interface Outcome { ok: boolean; ms: number; error?: string; cpu?: Cpu }
type Tool = 'ours' | 'skopeo';
/** Where a round copies from and to; the registries' pids when their CPU time is to be read. */
type Endpoints = { src: string; dst: string; repo: string; pids?: { src: number; dst: number } };

/** CPU ms of a process from /proc/<pid>/stat: utime + stime, or with `children` the waited-for children's. */
function cpuMs(pid: number | 'self', children = false): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const [u, s] = children ? [fields[13], fields[14]] : [fields[11], fields[12]];
  return (Number(u) + Number(s)) * 10; // USER_HZ is 100 on Linux
}

/** Runs a copy while reading the CPU time each party spent on it. */
async function withCpu(tool: Tool, e: Endpoints, run: () => Promise<Outcome>): Promise<Outcome> {
  if (!e.pids) return run();
  const { src, dst } = e.pids;
  const copier = (): number => (tool === 'ours' ? cpuMs('self') : cpuMs('self', true));
  const [s0, d0, c0] = [cpuMs(src), cpuMs(dst), copier()];
  const o = await run();
  const destination = src === dst ? 0 : cpuMs(dst) - d0;
  return { ...o, cpu: { source: cpuMs(src) - s0, destination, copier: copier() - c0 } };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function runSkopeo(args: string[], timeoutMs = 180_000): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, _out, stderr) => {
      const last = String(stderr).trim().split('\n').slice(-1)[0] ?? '';
      if (err) reject(new Error(`skopeo exited ${err.code ?? err.signal}: ${last.replace(/^time="[^"]*" level=\w+ msg=/, '')}`));
      else resolve();
    });
  });
}

async function timed(fn: () => Promise<unknown>): Promise<Outcome> {
  const t0 = performance.now();
  try {
    await fn();
    return { ok: true, ms: performance.now() - t0 };
  } catch (e) {
    return { ok: false, ms: performance.now() - t0, error: (e as Error).message.slice(0, 200) };
  }
}

function copyWith(tool: Tool, e: Endpoints): Promise<Outcome> {
  return withCpu(tool, e, () => copyOnce(tool, e));
}

function copyOnce(tool: Tool, e: Endpoints): Promise<Outcome> {
  if (tool === 'skopeo') {
    return timed(() => runSkopeo(['copy', '--all', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false',
      `docker://${e.src}/bench/src:v1`, `docker://${e.dst}/${e.repo}:v1`]));
  }
  const from = new RegistryClient({ registry: e.src });
  const to = e.src === e.dst ? from : new RegistryClient({ registry: e.dst });
  return timed(() => copy({ from: { client: from, repo: 'bench/src', ref: 'v1' }, to: { client: to, repo: e.repo }, tags: ['v1'] }));
}

/** Checks the destination has the index with its digest under the tag. */
async function verify(e: Endpoints, idx: TestIndex): Promise<boolean> {
  const head = await new RegistryClient({ registry: e.dst }).headManifest(e.repo, 'v1').catch(() => undefined);
  return head?.digest === idx.digest;
}

interface Scenario {
  name: string;
  rounds: number;
  /** Endpoints for one round and tool; may start registries or proxies (not timed). */
  setup(round: number, tool: Tool): Promise<Endpoints>;
}

async function runScenario(s: Scenario, idx: TestIndex): Promise<Record<Tool, Outcome[]>> {
  const out: Record<Tool, Outcome[]> = { ours: [], skopeo: [] };
  for (let r = 0; r < s.rounds; r++) {
    const order: Tool[] = r % 2 === 0 ? ['ours', 'skopeo'] : ['skopeo', 'ours'];
    for (const tool of order) {
      const e = await s.setup(r, tool);
      const o = await copyWith(tool, e);
      if (o.ok && !(await verify(e, idx))) Object.assign(o, { ok: false, error: 'destination digest differs' });
      out[tool].push(o);
      process.stdout.write(`  ${s.name} round ${r + 1} ${tool.padEnd(6)} ${o.ok ? `${o.ms.toFixed(0)} ms` : `FAILED after ${o.ms.toFixed(0)} ms: ${o.error}`}\n`);
    }
  }
  return out;
}

function summary(name: string, res: Record<Tool, Outcome[]>): string {
  const ok = (t: Tool): number[] => res[t].filter((o) => o.ok).map((o) => o.ms);
  const [mo, ms] = [median(ok('ours')), median(ok('skopeo'))];
  const ratio = Number.isFinite(mo) && Number.isFinite(ms) ? (ms / mo).toFixed(2) : 'n/a';
  const fmt = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : 'n/a');
  const line = `${name.padEnd(34)} ours ${fmt(mo).padStart(9)} (${ok('ours').length}/${res.ours.length} ok)   skopeo ${fmt(ms).padStart(9)} (${ok('skopeo').length}/${res.skopeo.length} ok)   skopeo/ours ${ratio}`;
  const cpu = (t: Tool): string | undefined => {
    const done = res[t].filter((o) => o.ok && o.cpu).map((o) => o.cpu!);
    if (done.length === 0) return undefined;
    const m = (k: keyof Cpu): number => median(done.map((c) => c[k]));
    const registries = m('destination') > 0 ? `source registry ${m('source')} ms + destination registry ${m('destination')} ms` : `registry ${m('source')} ms`;
    return `${t} ${registries} + copier ${m('copier')} ms`;
  };
  const parts = (['ours', 'skopeo'] as Tool[]).map(cpu).filter((x) => x !== undefined);
  return parts.length === 0 ? line : `${line}\n${''.padEnd(34)} median CPU per copy: ${parts.join('; ')}`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cacheFile = '/var/lib/containers/cache/blob-info-cache-v1.boltdb';
  const hadSkopeoCache = existsSync('/var/lib/containers');
  const started: Array<RunningRegistry | FaultProxy> = [];
  const fresh = async (): Promise<RunningRegistry> => { const r = await startRegistry(); started.push(r); return r; };
  try {
    console.log(`${cpus().length} CPUs, load average at the start ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    const t0 = performance.now();
    const idx = buildIndex({ seed: 'bench-copy', layerSizes: Array.from({ length: args.layers }, (_, i) => args.layerMb * 1024 * 1024 - i * 4096) });
    const total = idx.images.flatMap((i) => [i.config, ...i.layers]).reduce((n, b) => n + b.size, 0);
    const src = await fresh();
    await pushTestImage(new RegistryClient({ registry: src.host }), 'bench/src', idx, 'v1');
    console.log(`index ${idx.digest}: 2 arches x ${args.layers} layers, ${(total / 1048576).toFixed(1)} MiB of blobs; built and pushed in ${(performance.now() - t0).toFixed(0)} ms`);
    const skopeoStart = median(await Promise.all([0, 1, 2].map(() => timed(() => runSkopeo(['--version'])).then((o) => o.ms))));
    console.log(`skopeo process start (skopeo --version): ${skopeoStart.toFixed(0)} ms; ours runs in-process`);

    const sameReg: Scenario = { name: 'same registry, fresh repository', rounds: args.rounds,
      setup: async (r, tool) => ({ src: src.host, dst: src.host, repo: `bench/${tool}-same-${r}`, pids: { src: src.pid, dst: src.pid } }) };
    const crossReg: Scenario = { name: 'fresh registry', rounds: args.rounds,
      setup: async (r, tool) => { const dst = await fresh(); return { src: src.host, dst: dst.host, repo: `bench/${tool}-x-${r}`, pids: { src: src.pid, dst: dst.pid } }; } };
    const proxied = async (target: string, seed: number): Promise<string> => {
      const p = await startFaultProxy({ target, probability: args.faultRate, seed });
      started.push(p);
      return p.host;
    };
    const sameFaulty: Scenario = { name: `same registry, ${args.faultRate * 100}% faults`, rounds: args.faultRounds,
      setup: async (r, tool) => { const h = await proxied(src.host, 100 + r); return { src: h, dst: h, repo: `bench/${tool}-fsame-${r}` }; } };
    const crossFaulty: Scenario = { name: `fresh registry, ${args.faultRate * 100}% faults`, rounds: args.faultRounds,
      setup: async (r, tool) => ({ src: await proxied(src.host, 200 + r), dst: await proxied((await fresh()).host, 300 + r), repo: `bench/${tool}-fx-${r}` }) };

    console.log('warm-up (untimed)');
    for (const tool of ['ours', 'skopeo'] as Tool[]) await copyWith(tool, { src: src.host, dst: src.host, repo: `bench/${tool}-warmup` });
    const lines: string[] = [];
    for (const s of [sameReg, crossReg, sameFaulty, crossFaulty]) {
      console.log(`${s.name}:`);
      lines.push(summary(s.name, await runScenario(s, idx)));
      for (const x of started.splice(1)) await x.stop();
    }
    console.log(`\n${cpus().length} CPUs, load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    console.log(`medians over completed rounds (copy of ${(total / 1048576).toFixed(1)} MiB, 2-arch index):`);
    for (const l of lines) console.log(l);
  } finally {
    for (const x of started.reverse()) await x.stop();
    if (!hadSkopeoCache && existsSync(cacheFile)) rmSync('/var/lib/containers', { recursive: true, force: true });
  }
}

await main();
