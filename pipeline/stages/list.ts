/**
 * The stages, in order. `eksd release` runs RELEASE and `eksd republish` runs REPUBLISH, both through
 * the one loop (run/loop.ts), which owns stopping, timing, events, the lease and the journal. Each
 * entry hands a stage module the outputs it needs, so every stage is input -> output over plain data.
 */
import { bug } from '../errors.ts';
import type { Catalog } from '../catalog/model.ts';
import { allArtifacts } from '../catalog/model.ts';
import { loadCatalog, loadPin } from '../catalog/load.ts';
import type { ChannelConfig, Config } from '../config/config.ts';
import { makePlan, type Plan } from '../plan/plan.ts';
import { publishLimits, transferPolicy } from '../publish/limits.ts';
import { fetchArtifacts, type FetchedArtifact } from '../resolve/artifacts.ts';
import { verifyRelease, type VerifyReport } from '../site/verify.ts';
import type { Release } from '../release/types.ts';
import type { Stores } from '../store/open.ts';
import type { ClientFactory } from '../registry/client.ts';
import type { Lease } from '../store/lease.ts';
import { need, stage, type Stage } from './stage.ts';
import { recordPin } from '../store/released-pin.ts';
import type { Builder } from '../build/port.ts';
import { decideImages, buildImages, type Decided, type ImagesSettings } from './images/stage.ts';
import { publishedImages } from './images/published.ts';
import type { BuildRecord, ImageDecision, SharedBuilds } from './images/types.ts';
import { announce, announceDetail, type AnnounceOutcome } from './announce.ts';
import { movePointers } from './pointers.ts';
import { ensureImageRepositories, planRepositories, republishRepositories } from './repositories.ts';
import { releaseOf, writeSite, type SiteOutcome } from './release.ts';
import { compareWithLatest, comparisonDetail, type Comparison } from './compare.ts';
import { moveVersionedTags, type TagsRecord } from './tags.ts';
import { verifyDetail, verifyPublished } from './verify.ts';
import { checkUpstream } from './upstream.ts';
import { formatLocation, locateAll, type Located, type Location, type ReleaseImage } from './republish/locate.ts';
import { copyImages, newerReleases, type RepublishedImage } from './republish/copy.ts';
import { manifestToVerify, writeMirror, type ToVerify } from './republish/mirror.ts';

/** What a release run has, beside the stages' outputs: set up by the runner, the same for every stage. */
export interface ReleaseEnv {
  config: ChannelConfig;
  clients: ClientFactory;
  stores: Stores;
  /** The builders, in the order of preference; loaded on first use. */
  builders: () => Promise<readonly Builder[]>;
  /** Build keys of this run, across channels: each is built once. */
  shared: SharedBuilds;
  force: boolean;
  /** Release even when nothing changed since the channel's latest release. */
  releaseUnchanged: boolean;
  concurrency: number;
  cacheDir: string;
  /** status.date of the manifest */
  date: string;
  commit?: string;
  /** Set when the run is opened (before `resolve`): the release number, the lease, where the journal is. */
  run?: { number: number; lease?: Lease; journal: string };
}

export interface ReleaseOutputs {
  catalog: Catalog;
  resolve: FetchedArtifact[];
  plan: Plan;
  repositories: number;
  decide: Decided;
  build: BuildRecord;
  compare: Comparison;
  tags: TagsRecord;
  release: SiteOutcome;
  verify: { release: Release; report: VerifyReport };
  pointers: { channelFile: string };
  announce: AnnounceOutcome;
  pin: { channel: string };
}

type ReleaseStage = Stage<ReleaseOutputs, keyof ReleaseOutputs & string>;

export function releaseStages(env: ReleaseEnv): ReleaseStage[] {
  const run = () => env.run ?? notOpen();
  const lease = () => run().lease ?? notOpen();
  const imagesSettings: ImagesSettings = { channel: env.config.channel, force: env.force, assemble: env.config.build.assemble, shared: env.shared,
    builders: env.builders, client: env.clients, concurrency: env.concurrency, cacheDir: env.cacheDir, limits: publishLimits(env.config) };
  const images = (out: Partial<ReleaseOutputs>) => publishedImages(need(out, 'plan'), need(out, 'build'));
  const siteInput = (out: Partial<ReleaseOutputs>) => ({ config: env.config, catalog: need(out, 'catalog'), plan: need(out, 'plan'), images: images(out),
    artifacts: need(out, 'resolve'), date: env.date, ...(env.commit ? { commit: env.commit } : {}) });
  return [
    stage('catalog', async () => {
      const catalog = loadCatalog(env.config);
      await checkUpstream(loadPin(env.config.basePin), env.clients); // before the run opens: nothing is written for a bad pin
      return catalog;
    }, { dry: true, detail: (c) => `${c.images.length} images, ${c.components.length} components` }),
    stage('resolve', ({ out }, { emit }) => {
      const wanted = allArtifacts(need(out, 'catalog'));
      return fetchArtifacts(wanted, env.config.artifacts.baseUrl, env.config.artifacts.cacheDir, (message) => emit({ type: 'info', message }));
    }, { dry: true, opensRun: true, detail: (a) => `${a.length} artifacts verified` }),
    stage('plan', async ({ out }) => {
      return makePlan(env.config, need(out, 'catalog'), loadPin(env.config.basePin), run().number);
    }, { dry: true, detail: (p) => `${p.release}: ${p.images.length} images` }),
    stage('decide', ({ out, recorded }) => decideImages({ plan: need(out, 'plan'), catalog: need(out, 'catalog'), artifacts: need(out, 'resolve'),
      ...(recorded.build ? { done: recorded.build } : {}) }, imagesSettings),
      { dry: true, detail: ({ decisions }) => decisionsDetail(decisions) }),
    stage('repositories', ({ out }, { emit }) => {
      const plan = need(out, 'plan');
      return ensureImageRepositories(env.config, plan.images[0]?.registry ?? '', () => planRepositories(plan), (message) => emit({ type: 'info', message }));
    }),
    stage('build', ({ out }, tools) => buildImages({ plan: need(out, 'plan'), catalog: need(out, 'catalog'), ...need(out, 'decide') }, imagesSettings, tools),
      { checkpointed: true }),
    stage('compare', ({ out, recorded }) => compareWithLatest({ next: releaseOf(siteInput(out)), site: env.stores.site,
      always: env.releaseUnchanged || env.force || recorded.tags !== undefined }), { stopsIf: (c) => !c.changed, detail: (c) => comparisonDetail(c, env.config.channel) }),
    stage('tags', ({ out, recorded }) => moveVersionedTags({ images: images(out), clients: env.clients, ...(recorded.tags ? { recorded: recorded.tags } : {}),
      release: { channel: env.config.channel, number: run().number, journal: run().journal } }), { checkpointed: true }),
    stage('release', ({ out }) => writeSite({ ...siteInput(out), site: env.stores.site }),
    { checkpointed: true, detail: (s) => `${s.manifestPath}${s.written ? '' : ' (already written, unchanged)'}` }),
    stage('verify', ({ out }) => verifyPublished({ config: env.config, name: need(out, 'release').name, site: env.stores.site, clients: env.clients }),
      { checkpointed: true, detail: (v) => verifyDetail(v.report, env.config) }),
    stage('pointers', ({ out }) => movePointers({ config: env.config, channel: env.config.channel, number: run().number, images: images(out),
      site: env.stores.site, lease: lease(), clients: env.clients }), { detail: (p) => `${p.channelFile} and the floating tags point at the release` }),
    stage('announce', ({ out }) => announce({ config: env.config, stores: env.stores, lease: lease(), release: need(out, 'verify').release, images: images(out) }),
      { checkpointed: true, detail: announceDetail }),
    stage('pin', async () => { await recordPin(env.stores.state, env.config.channel, env.config.basePin); return { channel: env.config.channel }; }),
  ];
}

/** What a republish run has, beside the stages' outputs. */
export interface RepublishEnv {
  config: Config;
  release: Release;
  images: ReleaseImage[];
  target: Location;
  from: Location[];
  configured: Location;
  /** The target is not where the manifest points: verify (and write) a mirror copy. */
  mirror: boolean;
  output?: string;
  clients: ClientFactory;
  stores: Stores;
  lease: Lease;
  announce: boolean;
  concurrency: number;
  verifyAttempts?: number;
  /** The number of the channel's unfinished release run, if any. */
  unfinished?: number;
  log: (line: string) => void;
}

export interface RepublishOutputs {
  locate: Located[];
  repositories: number;
  copy: RepublishedImage[];
  mirror: ToVerify;
  verify: VerifyReport;
  record: { mirrorManifest?: string };
  announce: AnnounceOutcome;
}

type RepublishStage = Stage<RepublishOutputs, keyof RepublishOutputs & string>;

/** Republish: never rebuilds and never changes a digest; only a verified result is recorded or announced. */
export function republishStages(env: RepublishEnv): RepublishStage[] {
  const { config, release } = env;
  const name = release.metadata.name;
  return [
    stage('locate', () => locateAll({ name, images: env.images, target: env.target, from: env.from, configured: env.configured, site: env.stores.site, clients: env.clients }),
      { detail: (l) => `${l.length} images of ${name} found` }),
    stage('repositories', () => ensureImageRepositories(config, env.target.registry, () => republishRepositories(env.target, env.images), env.log)),
    stage('copy', async ({ out }) => copyImages({ located: need(out, 'locate'), target: env.target, clients: env.clients,
      // The target's limits, as a release has them (ECR Public: no mounts, paced uploads), shared by every copy.
      policy: transferPolicy(publishLimits(config, env.target.registry)), concurrency: env.concurrency, log: env.log,
      newer: await newerReleases(config, env.stores, release.spec.channel, release.spec.number, env.unfinished) }),
    { detail: (c) => `${c.length} images copied to ${formatLocation(env.target)}` }),
    stage('mirror', async () => manifestToVerify(release, { mirror: env.mirror, images: env.images, target: env.target, site: env.stores.site,
      ...(env.output ? { output: env.output } : {}) })),
    stage('verify', ({ out }) => verifyRelease(need(out, 'mirror').release, { client: env.clients, site: env.stores.site, siteBaseUrl: config.site.baseUrl,
      ...(env.verifyAttempts ? { attempts: env.verifyAttempts } : {}) }), { stopsIf: (r) => r.problems.length > 0, detail: (r) => `${r.problems.length} problem(s)` }),
    stage('record', async ({ out }) => { const path = await writeMirror(need(out, 'mirror'), env.stores.site); return path ? { mirrorManifest: path } : {}; },
      { detail: (r) => r.mirrorManifest ?? 'in place' }),
    ...(env.announce ? [stage<RepublishOutputs, 'announce'>('announce', () => announce({ config, stores: env.stores, lease: env.lease, release, republish: true }),
      { detail: announceDetail })] : []),
  ];
}

/** The stage each `--until` stops after. */
export const UNTIL = { plan: 'decide', publish: 'tags', release: 'release', verify: 'verify', announce: 'pin' } as const satisfies Record<string, keyof ReleaseOutputs>;

export type Until = keyof typeof UNTIL;

function decisionsDetail(decisions: ImageDecision[]): string {
  const all = decisions.flatMap((d) => Object.values(d.platforms));
  const builds = all.filter((d) => d!.action === 'build').length;
  return `${builds} of ${all.length} platform images to build, ${all.length - builds} to reuse`;
}

function notOpen(): never {
  return bug('the run is not open before the stage that needs it');
}
