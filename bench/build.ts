/**
 * Benchmark: build and publish the full catalog (5 bases + 18 component images, linux/amd64 and
 * linux/arm64) with our pipeline and with buildah, in the same run, on the same Dockerfiles, contexts
 * and registry; then the component images after a base update assembled against the same step through
 * BuildKit only (with their uploads), our no-op re-run against the process start, and a one-component
 * change against the no-op.
 *
 *   npm run bench:build
 *
 * Fairness:
 * - A fresh project (own registry namespace) whose stand-in upstream AL2 image is a revision nobody
 *   else has pushed, so no BuildKit cache entry can match any step: our run is cold. Its artifact cache
 *   and layer-compression cache start empty too; fetching and verifying artifacts is inside its time.
 * - buildah gets empty storage in a temp dir (removed afterwards), so it is cold as well. The build
 *   contexts it gets are the files our pipeline stages (pipeline/stages/images/context.ts over the artifacts our
 *   run fetched and verified), prepared before its clock starts: one folder per image holding both
 *   platforms' files, since one `buildah build --platform linux/amd64,linux/arm64` serves both.
 *   Images go in dependency order, each FROM its parent's pushed index by digest: once at our
 *   concurrency (independent images built at the same time, an image as soon as its parents are pushed)
 *   and once one at a time.
 *   (buildah's chroot isolation cannot use --network none; it runs RUN steps with the host network.)
 * - Our runs use the compiled build (`npm run bench:build` builds it first), as CodeBuild and the
 *   workflows do; buildah is a compiled binary too.
 * - Our runs go through a 0%-fault counting proxy in front of the registry (that is how uploads are
 *   counted; a recorder behind it names each upload's repository); buildah pushes to the registry directly.
 * - The machine is shared and its load moves, so the cold runs alternate, ours / buildah / buildah / ours
 *   (BENCH_ROUNDS=2, each round with a fresh project or fresh storage), and the load average is printed.
 * - Only what this script created is removed afterwards: buildah's storage, the temp contexts, the
 *   project folder and our `eksd-build/*` engine tags of this run. Registry content stays (like tests).
 */
import { execFile, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { parse, stringify } from 'yaml';
import { loadCatalog, loadPin } from '../pipeline/catalog/load.ts';
import { UPSTREAM, type ImageSpec } from '../pipeline/catalog/model.ts';
import type { Platform } from '../pipeline/config/config.ts';
import { contextFiles } from '../pipeline/stages/images/context.ts';
import { DEFAULT_ENV, envUp } from '../dev/env/local.ts';
import { seedStandinBase } from '../dev/env/standin-base.ts';
import { makePlan } from '../pipeline/plan/plan.ts';
import { defaultConcurrency } from '../pipeline/app/runner.ts';
import { limiter } from '../pipeline/util/limit.ts';
import { RegistryClient } from '../pipeline/registry/index.ts';
import { splitReference, writePin } from '../pipeline/resolve/base.ts';
import { fetchArtifacts } from '../pipeline/resolve/artifacts.ts';
import { startFaultProxy, type FaultProxy } from '../test/helpers/fault-proxy.ts';
import { makeProject, LOCAL_REGISTRY, type TestProject } from '../test/helpers/project.ts';
import { startRecorder, uploadPaths, type Recorder } from '../test/helpers/recorder.ts';

const run = promisify(execFile);
const PLATFORMS: Platform[] = ['linux/amd64', 'linux/arm64'];
const log = (line: string): void => { process.stderr.write(`${line}\n`); };
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
const LOGS = mkdtempSync(join(tmpdir(), 'eksd-bench-logs-'));

interface JsonImage { name: string; digest: string; platforms: Record<string, { digest: string; built: boolean; reason: string }> }
interface RunOutcome {
  ms: number; images: JsonImage[]; stderr: string; uploads: number; uploadStarts: number; mounts: number; keys: string[]; load: string;
  /** Blob uploads (PUTs) into component repositories, and into base repositories. */
  componentUploads: number; baseUploads: number;
  /** The path of every blob upload (PUT), naming its repository. */
  uploadPaths: string[];
  /** Requests the proxy received, by kind. */
  requests: Record<string, number>;
  /** Digests of the attestation bundles the run uploaded. */
  bundles: string[];
}

let recorder: Recorder;

/**
 * One `eksd release --until publish` of the project (`full`: the whole release, so the floating tags
 * move and the next run decides against it), timed, with the proxy's upload counts.
 */
async function ours(p: TestProject, proxy: FaultProxy, label: string, args: string[] = [], full = false): Promise<RunOutcome> {
  proxy.resetCounts();
  recorder.lines.length = 0;
  const before = load();
  log(`\n== ours: ${label} (load ${before})`);
  const started = performance.now();
  const r = await p.eksd(['release', ...(full ? [] : ['--until', 'publish']), '--json', '--events', 'plain', ...args], { timeoutMs: 3_600_000 });
  const ms = performance.now() - started;
  if (r.code !== 0) throw new Error(`eksd release (${label}) exited ${r.code}:\n${r.stderr.slice(-5000)}`);
  const journal = join(p.config().stateDir, 'runs', p.config().channel, 'current.json');
  const keys = existsSync(journal) ? collectKeys(JSON.parse(readFileSync(journal, 'utf8')) as JournalShape) : [];
  const images = (JSON.parse(r.stdout) as { images: JsonImage[] }).images;
  log(`   ${secs(ms)}, ${images.filter((i) => Object.values(i.platforms).some((x) => x.built)).length} images built, ${proxy.forwarded['blob-upload-put'] ?? 0} blob uploads`);
  writeFileSync(join(LOGS, `ours-${label.replace(/\W+/g, '-')}.log`), r.stderr);
  const uploads = uploadPaths(recorder.lines);
  const baseUploads = uploads.filter((u) => u.includes('/eks-distro-build-tooling/')).length;
  return { ms, images, stderr: r.stderr, load: before, uploads: proxy.forwarded['blob-upload-put'] ?? 0,
    uploadStarts: proxy.forwarded['blob-upload-start'] ?? 0, mounts: proxy.forwarded['blob-mount'] ?? 0, keys,
    componentUploads: uploads.length - baseUploads, baseUploads, uploadPaths: uploads, requests: { ...proxy.received }, bundles: full ? await bundleUploads(uploads) : [] };
}

interface JournalShape { images?: Record<string, { platforms?: Record<string, { key?: string; built?: boolean }> }> }

/** The engine tags our builds of this run created: eksd-build/<image>:<arch>-<key 12>. */
function collectKeys(journal: JournalShape): string[] {
  const tags: string[] = [];
  for (const [name, image] of Object.entries(journal.images ?? {})) {
    for (const [platform, record] of Object.entries(image.platforms ?? {})) {
      if (record.built && record.key) tags.push(`eksd-build/${name}:${platform.split('/')[1]}-${record.key.slice(7, 19)}`);
    }
  }
  return tags;
}

/** "ok <stage>...(12.3s)" lines of the plain progress output. */
function stageTimes(stderr: string): string[] {
  return [...stderr.matchAll(/ ok ([^\s:]+)[^\n]*\(([\d.]+)s\)$/gm)].map((m) => `${m[1]} ${m[2]}s`);
}

/** Per platform build: BuildKit time (building -> built) and export + push time (built -> pushed). */
function buildTimes(stderr: string, only?: (image: string) => boolean): { builds: number; buildkitMs: number[]; exportPushMs: number[]; wallMs: number; busyMs: number } {
  const at = new Map<string, Record<string, number>>();
  for (const m of stderr.matchAll(/^\[\s*([\d.]+)s\] (building|built|pushed)\s+(\S+) (linux\/\S+)/gm)) {
    if (only && !only(m[3]!)) continue;
    const key = `${m[3]} ${m[4]}`;
    at.set(key, { ...at.get(key), [m[2]!]: Number(m[1]) * 1000 });
  }
  const done = [...at.values()].filter((v) => v.building !== undefined && v.built !== undefined && v.pushed !== undefined);
  const first = Math.min(...done.map((v) => v.building!));
  const last = Math.max(...done.map((v) => v.pushed!));
  return { builds: done.length, buildkitMs: done.map((v) => v.built! - v.building!), exportPushMs: done.map((v) => v.pushed! - v.built!), wallMs: last - first,
    busyMs: unionMs(done.map((v) => [v.building!, v.pushed!])) };
}

/** How long at least one of the intervals was open (the time a set of builds was in progress, waits for parents aside). */
function unionMs(intervals: Array<[number, number]>): number {
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

/** Platform builds by path, from the "built" lines: the assembler says "assembled". */
function buildsByPath(stderr: string): { assembled: number; buildkit: number } {
  const built = [...stderr.matchAll(/^\[\s*[\d.]+s\] built\s+\S+ linux\/\S+\s+(.*)$/gm)].map((m) => m[1]!);
  const assembled = built.filter((d) => d.startsWith('assembled')).length;
  return { assembled, buildkit: built.length - assembled };
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0; };

/** Finishes the open run so the next run decides from the registry, like a new release would. */
function closeRun(p: TestProject): void {
  rmSync(join(p.config().stateDir, 'runs'), { recursive: true, force: true });
}

/** Images in dependency order (parents, including builders, first). */
function dependencyOrder(images: ImageSpec[]): ImageSpec[] {
  const byName = new Map(images.map((i) => [i.name, i]));
  const out: ImageSpec[] = [];
  const seen = new Set<string>();
  const visit = (i: ImageSpec): void => {
    if (seen.has(i.name)) return;
    seen.add(i.name);
    for (const dep of [i.from, i.builder]) if (dep && dep !== UPSTREAM && byName.has(dep)) visit(byName.get(dep)!);
    out.push(i);
  };
  images.forEach(visit);
  return out;
}

function spawnTimed(cmd: string, args: string[], logFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    appendFileSync(logFile, `\n$ ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => appendFileSync(logFile, d));
    child.stderr.on('data', (d: Buffer) => appendFileSync(logFile, d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - started)
      : reject(new Error(`${cmd} ${args.slice(0, 6).join(' ')} ... exited ${code}; see ${logFile}`))));
  });
}

async function ensureBuildah(): Promise<void> {
  try {
    await run('buildah', ['--version']);
  } catch {
    log('buildah missing: apt-get install -y buildah');
    await run('apt-get', ['install', '-y', 'buildah'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
}

interface BuildahOutcome { ms: number; perImage: Array<{ name: string; buildMs: number; pushMs: number }>; prepareMs: number; load: string }

/** buildah on the same Dockerfiles and contexts, both platforms per image, in dependency order, `parallel` images at a time. */
async function buildah(p: TestProject, work: string, label: string, parallel: number): Promise<BuildahOutcome> {
  const config = p.config();
  const catalog = loadCatalog(config);
  const pin = loadPin(config.basePin);
  const root = join(work, 'storage');
  const runroot = join(work, 'run');
  const logFile = join(LOGS, `buildah-${label}.log`);
  const common = ['--root', root, '--runroot', runroot];
  const prepStarted = performance.now();
  const artifacts = await fetchArtifacts(catalog.components.flatMap((c) => c.artifacts), config.artifacts.baseUrl, config.artifacts.cacheDir);
  const contexts = new Map<string, string>();
  for (const spec of catalog.images) {
    const dir = join(work, 'contexts', spec.name);
    for (const platform of PLATFORMS) {
      for (const f of await contextFiles(spec, platform, artifacts)) {
        const target = join(dir, f.name);
        if (existsSync(target)) continue;
        mkdirSync(dirname(target), { recursive: true });
        await copyFile(f.source, target);
      }
    }
    contexts.set(spec.name, dir);
  }
  const prepareMs = performance.now() - prepStarted;
  const upstream = `${pin.reference.replace(/:[^:/]+$/, '')}@${pin.digest}`;
  const pushed = new Map<string, Promise<string>>([[UPSTREAM, Promise.resolve(upstream)]]);
  const perImage: BuildahOutcome['perImage'] = [];
  const slots = limiter(parallel);
  const before = load();
  log(`\n== buildah: full catalog, cold storage, ${parallel} at a time, ${label} (load ${before})`);
  const started = performance.now();
  const one = async (spec: ImageSpec, from: string, builder: string | undefined): Promise<string> => slots(async () => {
    const args: string[] = [];
    for (const [k, v] of Object.entries({ ...spec.buildArgs, BASE_IMAGE: from, ...(builder ? { BUILDER_IMAGE: builder } : {}) })) {
      args.push('--build-arg', `${k}=${v}`);
    }
    const list = `bench-${spec.name}`;
    const dockerfile = spec.dockerfile.slice(spec.contextDir.length + 1);
    const buildMs = await spawnTimed('buildah', [...common, 'build', '--isolation', 'chroot', '--tls-verify=false',
      '--platform', PLATFORMS.join(','), '--manifest', list, '-f', join(contexts.get(spec.name)!, dockerfile), ...args, contexts.get(spec.name)!], logFile);
    const target = `${LOCAL_REGISTRY}/${p.ns}/buildah/${spec.repository}`;
    const digestFile = join(work, `${spec.name}.digest`);
    const pushMs = await spawnTimed('buildah', [...common, 'manifest', 'push', '--all', '--tls-verify=false', '--digestfile', digestFile,
      list, `docker://${target}:bench`], logFile);
    perImage.push({ name: spec.name, buildMs, pushMs });
    log(`   ${spec.name}: build ${secs(buildMs)}, push ${secs(pushMs)}`);
    return `${target}@${readFileSync(digestFile, 'utf8').trim()}`;
  });
  for (const spec of dependencyOrder(catalog.images)) {
    const parents = Promise.all([pushed.get(spec.from)!, spec.builder ? pushed.get(spec.builder)! : undefined]);
    pushed.set(spec.name, parents.then(([from, builder]) => one(spec, from, builder)));
  }
  const settled = await Promise.allSettled(pushed.values());
  const failed = settled.find((x) => x.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
  return { ms: performance.now() - started, perImage, prepareMs, load: before };
}

async function cleanupBuildah(work: string): Promise<void> {
  const common = ['--root', join(work, 'storage'), '--runroot', join(work, 'run')];
  await run('buildah', [...common, 'rm', '--all']).catch(() => undefined);
  await run('buildah', [...common, 'rmi', '--all', '--force']).catch(() => undefined);
  // Overlay mounts left under the storage would make rm fail: unmount what is under our folder only.
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(work)).reverse();
  for (const m of mounts) await run('umount', [m]).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}

/** A fresh full-catalog project with a stand-in AL2 revision of its own (nothing in any cache matches it). */
async function coldProject(projects: TestProject[]): Promise<TestProject> {
  const p = await makeProject({ catalog: 'full' });
  projects.push(p);
  await p.seed();
  await baseUpdate(p);
  return p;
}

/** Our runs go through the counting proxy: the project's image repositories point at it. */
function throughProxy(p: TestProject, proxy: FaultProxy): void {
  const file = parse(readFileSync(p.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(p.configFile, stringify({ ...file, imageRepo: `${proxy.host}/${p.ns}/eks-distro`, baseImageRepo: `${proxy.host}/${p.ns}/eks-distro-build-tooling` }));
}

/** An AL2 update as `eksd watch-base --write` sees it: a new stand-in revision nobody else has, pinned. */
async function baseUpdate(p: TestProject): Promise<void> {
  const config = p.config();
  const { registry, repository, tag } = splitReference(loadPin(config.basePin).reference);
  const base = await seedStandinBase(new RegistryClient({ registry }), repository, tag, 1000 + randomInt(1_000_000_000), join(DEFAULT_ENV.root, 'busybox'));
  await writePin(config.basePin, base);
}

interface Figures {
  oursCold: RunOutcome[]; parallelCold: BuildahOutcome[]; serialCold: BuildahOutcome[]; concurrency: number;
  updateBuildKit: RunOutcome; updateAssembled: RunOutcome; noop: RunOutcome; change: RunOutcome;
  imageCount: number; isComponent: (image: string) => boolean; repositoryOf: (image: string) => string; startup: number;
}

/** The images a run assembled, by platform count. */
function assembledImages(stderr: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of stderr.matchAll(/^\[\s*[\d.]+s\] built\s+(\S+) linux\/\S+\s+assembled/gm)) out.set(m[1]!, (out.get(m[1]!) ?? 0) + 1);
  return out;
}

/**
 * Uploads into the repositories of the images the run assembled: the platform configs, the attestation
 * bundles (signatures, SBOMs, provenance: `bundles`, the uploads whose digest a run's bundle list names),
 * and what is left, layers.
 */
function assembledUploads(r: RunOutcome, repositoryOf: (image: string) => string): { uploads: number; layers: number; bundles: number } {
  const images = assembledImages(r.stderr);
  const repos = [...images.keys()].map((i) => `/eks-distro/${repositoryOf(i)}/blobs/uploads/`);
  const into = r.uploadPaths.map((u) => decodeURIComponent(u)).filter((u) => repos.some((repo) => u.includes(repo)));
  const bundles = into.filter((u) => r.bundles.some((d) => u.includes(d))).length;
  return { uploads: into.length, bundles, layers: into.length - bundles - sum([...images.values()]) };
}

/** The blobs (digests) among a run's uploads that are Sigstore bundles, read back from the registry after the run. */
async function bundleUploads(paths: string[]): Promise<string[]> {
  const client = new RegistryClient({ registry: LOCAL_REGISTRY });
  const found: string[] = [];
  for (const path of paths.map((u) => decodeURIComponent(u))) {
    const m = /^\/v2\/(.+)\/blobs\/uploads\/.*[?&]digest=(sha256:[0-9a-f]{64})/.exec(path);
    if (!m) continue;
    const blob = await client.getBlob(m[1]!, m[2]!).catch(() => undefined);
    if (blob && blob.length < 65_536 && blob.toString('utf8', 0, 200).includes('application/vnd.dev.sigstore.bundle')) found.push(m[2]!);
  }
  return found;
}

async function main(): Promise<void> {
  await envUp(undefined, log);
  await ensureBuildah();
  const projects: TestProject[] = [];
  const works: string[] = [];
  const engineTags = new Set<string>();
  recorder = await startRecorder(LOCAL_REGISTRY);
  const proxy = await startFaultProxy({ target: recorder.host, probability: 0 });
  const concurrency = defaultConcurrency();
  try {
    log(`${cpus().length} cores, ${ROUNDS} rounds, our concurrency ${concurrency}, logs in ${LOGS}`);
    const oursCold: RunOutcome[] = [];
    const parallelCold: BuildahOutcome[] = [];
    const serialCold: BuildahOutcome[] = [];
    let last: TestProject | undefined;
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? ['ours', 'buildah', 'buildah-serial'] : ['buildah-serial', 'buildah', 'ours'];
      for (const tool of order) {
        const p = await coldProject(projects);
        if (tool === 'ours') {
          throughProxy(p, proxy);
          const r = await ours(p, proxy, `full catalog cold round ${round}`);
          r.keys.forEach((k) => engineTags.add(k));
          oursCold.push(r);
          last = p;
        } else {
          const work = await mkdtemp(join(tmpdir(), 'eksd-bench-buildah-'));
          works.push(work);
          const serial = tool === 'buildah-serial';
          (serial ? serialCold : parallelCold).push(await buildah(p, work, `round-${round}${serial ? '-serial' : ''}`, serial ? 1 : concurrency));
          await cleanupBuildah(work);
        }
      }
    }
    const p = last!;
    const catalog = loadCatalog(p.config());
    const imageCount = makePlan(p.config(), catalog, loadPin(p.config().basePin), 1).images.length;
    const isComponent = (image: string) => catalog.images.find((i) => i.name === image)?.kind === 'image';
    const repositoryOf = (image: string) => catalog.images.find((i) => i.name === image)!.repository;
    const step = async (label: string, number: number, args: string[] = [], full = false) => {
      closeRun(p);
      const r = await ours(p, proxy, label, ['--number', String(number), ...args], full);
      r.keys.forEach((k) => engineTags.add(k));
      return r;
    };

    // A base update through BuildKit only, then another one with the assembler (the default). Both are
    // whole releases: the floating tags move, so what follows is decided against the last one.
    await baseUpdate(p);
    const updateBuildKit = await step('base update, BuildKit only', 2, ['--buildkit-only'], true);
    await baseUpdate(p);
    const updateAssembled = await step('base update, assembled', 3, [], true);
    // Nothing changed: a new run decides from the registry.
    const noop = await step('no-op re-run', 4);
    // One component's recipe changed (etcd gets a config file).
    const etcd = join(p.root, 'images', 'etcd');
    writeFileSync(join(etcd, 'etcd.conf.yml'), `# bench\nname: default\ndata-dir: /var/lib/etcd\n`);
    appendFileSync(join(etcd, 'Dockerfile'), 'COPY etcd.conf.yml /etc/etcd/etcd.conf.yml\n');
    const change = await step('one component changed', 5);
    const startup = await cliStartup(p);
    process.stdout.write(`${report({ oursCold, parallelCold, serialCold, concurrency, updateBuildKit, updateAssembled, noop, change, imageCount, isComponent, repositoryOf, startup }).join('\n')}\n`);
  } finally {
    await proxy.stop();
    await recorder.stop();
    for (const work of works) await cleanupBuildah(work).catch((e: unknown) => log(`buildah cleanup: ${String(e)}`));
    const docker = new Docker({ socketPath: DEFAULT_ENV.dockerSocket });
    for (const tag of engineTags) await docker.getImage(tag).remove().catch(() => undefined);
    for (const p of projects) await p.cleanup();
  }
}

const mean = (xs: Array<{ ms: number }>): number => sum(xs.map((x) => x.ms)) / xs.length;
const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
const built = (r: RunOutcome) => r.images.filter((i) => Object.values(i.platforms).some((x) => x.built));

/** All requests of a run divided among its platform images. */
function perImage(requests: Record<string, number>, platformImages: number): string {
  return (sum(Object.values(requests)) / platformImages).toFixed(1);
}

function report(f: Figures): string[] {
  const oursMs = mean(f.oursCold);
  const [parallelMs, serialMs] = [mean(f.parallelCold), mean(f.serialCold)];
  const full = f.oursCold[f.oursCold.length - 1]!;
  const bt = buildTimes(full.stderr);
  const paths = buildsByPath(full.stderr);
  // The same images both ways: those the assembler made in the assembled run (the rest are BuildKit builds in both).
  const assembledSet = new Set(assembledImages(f.updateAssembled.stderr).keys());
  const [bk, as] = [buildTimes(f.updateBuildKit.stderr, (i) => assembledSet.has(i)), buildTimes(f.updateAssembled.stderr, (i) => assembledSet.has(i))];
  const componentRatio = bk.busyMs / as.busyMs;
  const componentBuilds = buildsByPath(f.updateAssembled.stderr).assembled;
  // The repository of an assembled image receives one config per platform; anything more is a layer.
  const intoAssembled = assembledUploads(f.updateAssembled, f.repositoryOf);
  const intoBuildKit = assembledUploads({ ...f.updateBuildKit, stderr: f.updateAssembled.stderr }, f.repositoryOf);
  const layerUploads = intoAssembled.layers;
  const noopRatio = f.noop.ms / f.startup;
  const changeRatio = f.change.ms / f.noop.ms;
  const lastSerial = f.serialCold[f.serialCold.length - 1]!;
  return [
    '',
    `Full catalog: ${f.imageCount} images x ${PLATFORMS.length} platforms; ${cpus().length} cores; ours and buildah both ${f.concurrency} at a time (2 per core)`,
    `  ours    eksd release --until publish, cold:        ${f.oursCold.map((r) => `${secs(r.ms)} (load ${r.load})`).join(', ')}  -> mean ${secs(oursMs)}`,
    `  buildah build --platform a,b + manifest push, cold, ${f.concurrency} at a time: ${f.parallelCold.map((r) => `${secs(r.ms)} (load ${r.load})`).join(', ')}  -> mean ${secs(parallelMs)}`,
    `  buildah, one at a time:                          ${f.serialCold.map((r) => `${secs(r.ms)} (load ${r.load})`).join(', ')}  -> mean ${secs(serialMs)}`,
    `  ratio buildah (same parallelism) / ours: ${(parallelMs / oursMs).toFixed(2)}x (target >= 3x: ${verdict(parallelMs / oursMs >= 3)}); buildah one at a time / ours: ${(serialMs / oursMs).toFixed(2)}x`,
    `  builds: ${paths.assembled} platform images assembled, ${paths.buildkit} through BuildKit; ${full.uploads} blobs uploaded, ${full.mounts} mounted`,
    `The ${assembledSet.size} assemblable component images after a base update (time with one of their builds in progress; first start to last push in brackets):`,
    `  through BuildKit only ${secs(bk.busyMs)} [${secs(bk.wallMs)}] (${bk.builds} platform builds, ${intoBuildKit.uploads - intoBuildKit.bundles} uploads into their repositories and ${intoBuildKit.bundles} attestation bundles; whole run ${secs(f.updateBuildKit.ms)})`,
    `  assembled ${secs(as.busyMs)} [${secs(as.wallMs)}] (${as.builds} platform builds; ${intoAssembled.uploads} uploads into their repositories = ${componentBuilds} configs + ${intoAssembled.bundles} attestation bundles + ${layerUploads} layers; whole run ${secs(f.updateAssembled.ms)})`,
    `  ratio: ${componentRatio.toFixed(1)}x (target >= 10x with 0 component-layer uploads: ${verdict(componentRatio >= 10 && layerUploads === 0)}); bases rebuilt through BuildKit in both, ${f.updateAssembled.baseUploads} uploads into base repositories`,
    `No-op re-run: ${secs(f.noop.ms)} = ${noopRatio.toFixed(2)}x eksd --version (${secs(f.startup)}) (target <= 3x: ${verdict(noopRatio <= 3)}); `
      + `${built(f.noop).length} images built, ${f.noop.uploads} blob uploads, ${f.noop.uploadStarts} upload sessions (target 0: ${verdict(built(f.noop).length === 0 && f.noop.uploads === 0 && f.noop.uploadStarts === 0)})`,
    `One component changed (etcd recipe): ${secs(f.change.ms)} = ${changeRatio.toFixed(2)}x the no-op (target <= 2x: ${verdict(changeRatio <= 2)}); `
      + `rebuilt: ${built(f.change).map((i) => `${i.name} (${Object.entries(i.platforms).filter(([, x]) => x.built).map(([k]) => k.split('/')[1]).join('+')})`).join(', ') || 'nothing'}, `
      + `${buildsByPath(f.change.stderr).assembled} assembled, ${buildsByPath(f.change.stderr).buildkit} through BuildKit; ${f.change.uploads} blob uploads`,
    '',
    'Where the time goes',
    `  eksd process start (eksd --version, from the compiled build): ${secs(f.startup)}`,
    `  ours cold (last round), stages: ${stageTimes(full.stderr).join(', ')}`,
    `    ${bt.builds} platform builds: build ${secs(sum(bt.buildkitMs))} summed (median ${secs(median(bt.buildkitMs))} each),`
      + ` export + push ${secs(sum(bt.exportPushMs))} summed (median ${secs(median(bt.exportPushMs))});`
      + ` over ${secs(bt.wallMs)} of wall time = ${((sum(bt.buildkitMs) + sum(bt.exportPushMs)) / bt.wallMs).toFixed(1)} builds at a time`,
    `  assemblable components after a base update: BuildKit ${secs(sum(bk.buildkitMs))} build + ${secs(sum(bk.exportPushMs))} export/push summed (median ${secs(median(bk.buildkitMs))} + ${secs(median(bk.exportPushMs))});`
      + ` assembler ${secs(sum(as.buildkitMs))} assemble + ${secs(sum(as.exportPushMs))} push summed (median ${secs(median(as.buildkitMs))} + ${secs(median(as.exportPushMs))})`,
    `  requests of the assembled base update (all images, attestations included): ${JSON.stringify(f.updateAssembled.requests)} = ${perImage(f.updateAssembled.requests, f.imageCount * PLATFORMS.length)} per platform image; of the no-op: ${JSON.stringify(f.noop.requests)}`,
    `  ours no-op: ${secs(f.noop.ms)} = process start ${secs(f.startup)} + stages ${stageTimes(f.noop.stderr).join(', ')} + the rest (config, lock, journal, summary)`,
    `  ours one change: stages ${stageTimes(f.change.stderr).join(', ')}`,
    `  buildah one at a time (last round): build ${secs(sum(lastSerial.perImage.map((i) => i.buildMs)))}, push ${secs(sum(lastSerial.perImage.map((i) => i.pushMs)))}; slowest: `
      + [...lastSerial.perImage].sort((a, b) => b.buildMs - a.buildMs).slice(0, 4).map((i) => `${i.name} ${secs(i.buildMs)}`).join(', '),
    `Logs: ${LOGS}`,
  ];
}

async function cliStartup(p: TestProject): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await p.eksd(['--version']);
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

await main();
