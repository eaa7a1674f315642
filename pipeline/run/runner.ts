/**
 * The runner: catalog -> resolve -> plan -> build+publish -> versioned tags -> site (write-once) ->
 * verify -> pointers (channel file, floating tags) -> announce, in that order, each stage handing plain
 * data to the next. A journal in the state store makes the run resumable, on this machine or another;
 * a lease in the same store keeps one run per channel. Pointers move last, and only a release that is
 * public and verified is announced.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/config.ts';
import { EksdError } from '../errors.ts';
import { loadCatalog, loadPin } from '../catalog/load.ts';
import { allArtifacts, type Catalog } from '../catalog/model.ts';
import { fetchArtifacts, type FetchedArtifact } from '../resolve/artifacts.ts';
import { makePlan, type Plan } from '../plan/plan.ts';
import { assertNoConflict, moveTags, tagsNow, type TagTarget } from '../publish/tags.ts';
import { publishLimits } from '../publish/limits.ts';
import { latestNumber } from '../release/site.ts';
import { openStores, type Stores } from '../store/open.ts';
import { buildAndPublish, type Engine, type PublishedImage } from './images.ts';
import { registryClients, type ClientFactory } from './clients.ts';
import { Journal } from './journal.ts';
import { acquireLease } from './lease.ts';
import type { Emit } from './events.ts';
import { releaseStage, type ReleaseOutcome } from './release-stage.ts';
import { reaches, type Stage } from './stages.ts';
import { recordPin } from './released-pin.ts';


export interface RunOptions {
  config: Config;
  emit: Emit;
  /** Stop after this stage (default: announce). */
  until?: Stage;
  dryRun?: boolean;
  force?: boolean;
  number?: number;
  concurrency?: number;
}

export interface RunResult {
  plan: Plan;
  images: PublishedImage[];
  release?: ReleaseOutcome;
  /** Set on a dry run: per image and platform, build or reuse and why. */
  decisions?: PublishedImage[];
  resumed: boolean;
  ms: number;
}


export async function runRelease(o: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const { config, emit } = o;
  const catalog = await timed(emit, 'catalog', async () => loadCatalog(config));
  const pin = loadPin(config.basePin);
  const clients = registryClients(config);
  const stores = await openStores(config);
  if (o.dryRun) return dryRun(o, catalog, pin, clients, stores, started);
  const lease = await acquireLease(stores.state, config.channel, `eksd release (pid ${process.pid})`, { ttlSeconds: config.leaseSeconds });
  const engine = engineAt(config.dockerSocket);
  try {
    const existing = await Journal.unfinished(stores.state, config.channel);
    if (existing && o.number !== undefined && o.number !== existing.data.number) {
      throw new EksdError('RUN_UNFINISHED', `release ${existing.data.number} of channel ${config.channel} is unfinished; it must complete before release ${o.number}`, {
        where: existing.file, hint: 'run eksd release without --number to finish it',
      });
    }
    const number = await releaseNumber(o, existing, stores);
    const journal = existing ?? await Journal.start(stores.state, config.channel, number);
    if (existing) emit({ type: 'info', message: `resuming release ${number} of channel ${config.channel} from ${existing.file}` });
    const wanted = allArtifacts(catalog);
    const artifacts = await timed(emit, 'resolve', () => fetchArtifacts(wanted, config.artifacts.baseUrl, config.artifacts.cacheDir,
      (l) => emit({ type: 'info', message: l })), `${wanted.length} artifacts verified`);
    const plan = makePlan(config, catalog, pin, number);
    await checkUpstream(plan, clients);
    const result: RunResult = { plan, images: [], resumed: existing !== undefined, ms: 0 };
    if (reaches(o.until, 'publish')) {
      if (config.aws.ecrPublic) await timed(emit, 'repositories', async () => (await import('../publish/repositories.ts')).ensureRepositories(config,
        plan.images.map((i) => ({ name: i.apiRepository, description: i.description, arches: i.platforms.map((p) => p.split('/')[1]!) })),
        (message) => emit({ type: 'info', message })));
      result.images = await timed(emit, 'build+publish', () => buildAndPublish(stageInput(o, catalog, plan, artifacts, clients, journal, engine)));
      await timed(emit, 'tags', () => moveVersionedTags(result.images, clients, journal));
    }
    if (reaches(o.until, 'release')) {
      result.release = await releaseStage({ config, catalog, plan, images: result.images, artifacts, journal, clients, emit,
        until: o.until ?? 'announce', stores, lease, moveFloatingTags: () => moveFloatingTags(result.images, clients) });
    }
    if (reaches(o.until, 'announce') && journal.data.announced) {
      await recordPin(stores.state, config);
      await journal.archive();
    }
    result.ms = Date.now() - started;
    return result;
  } finally {
    await engine.close();
    await lease.release();
  }
}

async function dryRun(o: RunOptions, catalog: Catalog, pin: ReturnType<typeof loadPin>, clients: ClientFactory, stores: Stores, started: number): Promise<RunResult> {
  const existing = await Journal.unfinished(stores.state, o.config.channel);
  const number = await releaseNumber(o, existing, stores);
  const plan = makePlan(o.config, catalog, pin, number);
  const journal = existing ?? Journal.ephemeral(o.config.channel, number);
  // Decisions need the artifacts' content hashes: verified from the cache, fetched when missing.
  const artifacts = await fetchArtifacts(allArtifacts(catalog), o.config.artifacts.baseUrl, o.config.artifacts.cacheDir);
  const decisions = await buildAndPublish({ ...stageInput(o, catalog, plan, artifacts, clients, journal, engineAt(o.config.dockerSocket)), decideOnly: true });
  return { plan, images: [], decisions, resumed: false, ms: Date.now() - started };
}

/** The unfinished run's number, else --number, else the latest in the site + 1. */
async function releaseNumber(o: RunOptions, existing: Journal | undefined, stores: Stores): Promise<number> {
  return existing?.data.number ?? o.number ?? (await latestNumber(stores.site, o.config.channel)) + 1;
}

function stageInput(o: RunOptions, catalog: Catalog, plan: Plan, artifacts: FetchedArtifact[], clients: ClientFactory, journal: Journal, engine: () => Promise<Engine>) {
  return {
    plan, catalog, artifacts, engine, client: clients, journal, emit: o.emit,
    concurrency: o.concurrency ?? (o.config.concurrency || defaultConcurrency()), force: o.force ?? false,
    cacheDir: join(o.config.artifacts.cacheDir, '..'), limits: publishLimits(o.config),
  };
}

/**
 * The Docker engine and its BuildKit builder, loaded on first use: a run that reuses every image never needs
 * them. An engine on this machine (a unix socket) gets the parents from our loopback endpoint; a remote one
 * (tcp://) pulls them from their registries. `close` ends the engine's endpoint, if it was ever loaded.
 */
function engineAt(dockerSocket: string): (() => Promise<Engine>) & { close(): Promise<void> } {
  let engine: Promise<Engine> | undefined;
  const load = () => (engine ??= (async () => {
    const [{ default: Docker }, { BuildKitBuilder }, { engineAddress }] = await Promise.all([
      import('dockerode'), import('../buildkit/builder.ts'), import('../buildkit/engine.ts')]);
    const address = engineAddress(dockerSocket);
    const docker = new Docker(address.options);
    const builder = new BuildKitBuilder(docker, { parentsOnLoopback: address.local });
    return { docker, builder, close: () => builder.close() };
  })());
  return Object.assign(load, { close: async () => { await (await engine?.catch(() => undefined))?.close(); } });
}

async function checkUpstream(plan: Plan, clients: ClientFactory): Promise<void> {
  const u = plan.upstream;
  const head = await clients(u.registry).headManifest(u.repository, u.digest);
  if (!head) {
    throw new EksdError('PIN_NOT_FOUND', `the pinned upstream ${u.registry}/${u.repository}@${u.digest} is not in the registry`, {
      where: u.reference, hint: 'run `eksd watch-base --write` to pin what the registry serves now',
    });
  }
}

function tagTargets(images: PublishedImage[], clients: ClientFactory): TagTarget[] {
  return images.map((img) => ({ client: clients(img.plan.registry), repository: img.plan.repository,
    index: { digest: img.index.digest, bytes: img.indexBytes }, tags: img.plan.tags }));
}

/** Every image's floating tags, once the release is public and verified. */
async function moveFloatingTags(images: PublishedImage[], clients: ClientFactory): Promise<void> {
  const targets = tagTargets(images, clients);
  const now = await tagsNow(targets);
  await Promise.all(targets.map((t, i) => moveTags(t, now[i]!, 'floating')));
}

async function moveVersionedTags(images: PublishedImage[], clients: ClientFactory, journal: Journal): Promise<void> {
  const targets = tagTargets(images, clients);
  const now = await tagsNow(targets);
  if (journal.data.tagsMoved) {
    // Resuming a run whose tags already moved: its images must still be the ones it tagged, or the
    // manifest would record digests its versioned tags do not serve (and that can never be fixed).
    const versioned = images.map((img, n) => now[n]![img.plan.tags.versioned]);
    const i = images.findIndex((img, n) => versioned[n] && versioned[n] !== img.index.digest);
    if (i >= 0) {
      const img = images[i]!;
      throw new EksdError('RUN_INPUTS_CHANGED', `release ${journal.data.number} of channel ${journal.data.channel} was interrupted after its tags moved, and its images changed since: ${img.plan.tags.versioned} of ${img.plan.registry}/${img.plan.repository} points at ${versioned[i]}, this run made ${img.index.digest}${img.changed ? ` (${img.changed})` : ''}`, {
        where: journal.file, hint: `restore the inputs release ${journal.data.number} started with (the base pin, the catalog) and run it again to finish it; the new inputs go into the next release`,
      });
    }
    return;
  }
  assertNoConflict(targets, now);
  await Promise.all(targets.map((t, i) => moveTags(t, now[i]!, 'versioned')));
  await journal.update((d) => { d.tagsMoved = true; });
}

/**
 * Builds spend much of their time waiting on the engine (session setup, exports, pushes), so two builds
 * per core keep the cores busy; measured about 15% faster than one per core on the full catalog.
 */
export function defaultConcurrency(): number {
  return Math.max(2, cpus().length * 2);
}

export async function timed<T>(emit: Emit, stage: string, work: () => Promise<T>, detail?: string): Promise<T> {
  const t = Date.now();
  emit({ type: 'stage', stage, state: 'started' });
  const result = await work();
  emit({ type: 'stage', stage, state: 'finished', ms: Date.now() - t, ...(detail ? { detail } : {}) });
  return result;
}
