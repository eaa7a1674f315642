/**
 * The release's stages, in order: what `eksd release` runs for each channel, through the one loop
 * (app/loop.ts), which owns stopping, timing, events, the lease and the journal; and the release's
 * outcome, from how the loop ended. The other flows' lists are in stages/lists/ (republish, announce,
 * retire). Each entry hands a stage module the outputs and the few settings it needs, so every stage is
 * input -> output over plain data.
 */
import type { Catalog } from '../../catalog/model.ts';
import { allArtifacts } from '../../catalog/model.ts';
import { loadCatalog, loadPin } from '../../catalog/load.ts';
import type { ChannelConfig, Platform } from '../../config/config.ts';
import { makePlan, type Plan } from '../../plan/plan.ts';
import { publishLimits } from '../../publish/limits.ts';
import { fetchArtifacts, type FetchedArtifact } from '../../resolve/artifacts.ts';
import type { VerifyReport } from '../../site/verify.ts';
import type { Release } from '../../release/types.ts';
import type { Stores } from '../../store/open.ts';
import type { ClientFactory } from '../../registry/client.ts';
import { leaseOf, need, opened, stage, type LoopEnd, type Stage } from '../stage.ts';
import { recordPin } from '../../store/released-pin.ts';
import type { Builder } from '../../builders/port.ts';
import { decideImages, buildImages, type Decided, type ImagesSettings } from '../images/stage.ts';
import { publishedImages, type PublishedImage } from '../images/published.ts';
import { onlyPlatform, requireMerged } from '../images/split.ts';
import type { BuildRecord, ImageDecision, SharedBuilds } from '../images/types.ts';
import type { Slots } from '../images/carry.ts';
import type { Turn } from '../../util/turn-order.ts';
import { announce, announceDetail, type AnnounceOutcome } from '../announce.ts';
import { movePointers } from '../pointers.ts';
import { ensureImageRepositories, planRepositories } from '../repositories.ts';
import { releaseOf, writeSite, type SiteOutcome } from '../release.ts';
import { compareWithLatest, comparisonDetail, type Comparison } from '../compare.ts';
import { moveVersionedTags, type TagsRecord } from '../tags.ts';
import { verifyDetail, verifyPublished } from '../verify.ts';
import { checkUpstream } from '../upstream.ts';
import { attestImages, releaseAttestations, type AttestRecord, type Attesting, type Signing } from '../attest/stage.ts';
import type { ReleaseAttestations } from '../../release/attestations.ts';
import type { ReleaseFacts } from '../attest/facts.ts';
import { sourceFrom } from '../../attest/provenance.ts';

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
  /** Build slots shared by the channels of the run. */
  slots?: Slots;
  /**
   * The channels of a run decide one after the other, in catalog order, while their other stages run at
   * once: a channel then sees every build key the channels before it reuse or build.
   */
  decideTurn?: Turn;
  cacheDir: string;
  /** A split job: this platform's images only, pushed by digest; no index (the list ends after build: splitStages). */
  split?: { platform: Platform };
  /** A merge: the platform images the split jobs recorded, all of them, verified; nothing is built. */
  merged?: BuildRecord;
  /** status.date of the manifest */
  date: string;
  commit?: string;
  /** Sign and attest every image (signing configured), and verify them before anything points at the release. */
  signing?: Attesting;
}

/** What opening a release run gives its stages (before `resolve`), beside the lease. */
export interface ReleaseRun {
  number: number;
  /** Where the run's journal is (for messages). */
  journal: string;
  /** An interrupted run of this release is resumed. */
  resumed: boolean;
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
  attest: AttestRecord;
  release: SiteOutcome;
  verify: { release: Release; report: VerifyReport };
  pointers: { channelFile: string };
  announce: AnnounceOutcome;
  pin: { channel: string };
}

type ReleaseStage = Stage<ReleaseOutputs, keyof ReleaseOutputs & string, ReleaseRun>;

export function releaseStages(env: ReleaseEnv): ReleaseStage[] {
  const imagesSettings = (): ImagesSettings => ({ channel: env.config.channel, force: env.force, assemble: env.config.build.assemble, shared: env.shared,
    builders: env.builders, client: env.clients, concurrency: env.concurrency, ...(env.slots ? { slots: env.slots } : {}), cacheDir: env.cacheDir, limits: publishLimits(env.config),
    ...(env.split ? { indexes: false } : {}), ...(env.merged ? { builds: false } : {}), ...(env.decideTurn ? { decideTurn: env.decideTurn } : {}) });
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
      return fetchArtifacts(wanted, env.config.artifacts.baseUrl, env.config.artifacts.cacheDir, (message) => emit({ type: 'info', message, progress: true }));
    }, { dry: true, opensRun: true, detail: (a) => `${a.length} artifacts verified` }),
    stage('plan', async ({ out, run }) => {
      const plan = makePlan(env.config, need(out, 'catalog'), loadPin(env.config.basePin), opened(run).number);
      return env.split ? onlyPlatform(plan, env.split.platform) : plan;
    }, { dry: true, detail: (p) => `${p.release}: ${p.images.length} images` }),
    stage('decide', async ({ out, recorded }) => {
      const done = recorded.build ?? env.merged;
      const decided = await decideImages({ plan: need(out, 'plan'), catalog: need(out, 'catalog'), artifacts: need(out, 'resolve'), ...(done ? { done } : {}) }, imagesSettings());
      if (env.merged) requireMerged(decided.decisions, env.config.channel);
      return decided;
    },
    { dry: true, detail: ({ decisions }) => decisionsDetail(decisions) }),
    stage('repositories', ({ out }, { emit }) => {
      const plan = need(out, 'plan');
      return ensureImageRepositories(env.config.aws, plan.images[0]?.registry ?? '', () => planRepositories(plan), (message) => emit({ type: 'info', message }));
    }),
    stage('build', ({ out }, tools) => buildImages({ plan: need(out, 'plan'), catalog: need(out, 'catalog'), ...need(out, 'decide') }, imagesSettings(), tools),
      { checkpointed: true }),
    stage('compare', ({ out, recorded }) => compareWithLatest({ next: releaseOf(siteInput(out)), site: env.stores.site,
      always: env.releaseUnchanged || env.force || recorded.tags !== undefined }), { stopsIf: (c) => !c.changed, detail: (c) => comparisonDetail(c, env.config.channel) }),
    stage('tags', ({ out, recorded, run }) => moveVersionedTags({ images: images(out), clients: env.clients, ...(recorded.tags ? { recorded: recorded.tags } : {}),
      release: { channel: env.config.channel, number: opened(run).number, journal: opened(run).journal } }), { checkpointed: true }),
    stage('attest', ({ out }, tools) => (env.signing ? attestImages({ images: images(out), facts: releaseFacts(env, env.signing, need(out, 'plan'), need(out, 'catalog')),
      signer: env.signing.signer, verifier: env.signing.verifier, startedOn: env.date }, tools) : Promise.resolve({})),
    { detail: (a) => attestDetail(a, env.signing) }),
    stage('release', ({ out }) => writeSite({ ...siteInput(out), site: env.stores.site, ...attestationsOf(env, out, images(out)) }),
    { checkpointed: true, detail: (s) => `${s.manifestPath}${s.written ? '' : ' (already written, unchanged)'}` }),
    stage('verify', ({ out }) => verifyPublished({ urls: env.config.site, name: need(out, 'release').name, site: env.stores.site, clients: env.clients,
      ...(env.signing ? { verifier: env.signing.verifier } : {}) }),
      { checkpointed: true, detail: (v) => verifyDetail(v.report, env.config.site.verifyUrl) }),
    stage('pointers', ({ out, run }) => movePointers({ channel: env.config.channel, number: opened(run).number, images: images(out), site: env.stores.site,
      lease: leaseOf(run), clients: env.clients, ...snsTopic(env) }), { detail: (p) => `${p.channelFile} and the floating tags point at the release` }),
    stage('announce', ({ out, run }) => announce({ settings: env.config, stores: env.stores, lease: leaseOf(run), release: need(out, 'verify').release, images: images(out) }),
      { checkpointed: true, detail: announceDetail }),
    stage('pin', async () => { await recordPin(env.stores.state, env.config.channel, env.config.basePin); return { channel: env.config.channel }; }),
  ];
}

/** A split job's list: the release's stages up to build, over one platform (`env.split`). */
export function splitStages(env: ReleaseEnv & { split: { platform: Platform } }): ReleaseStage[] {
  const stages = releaseStages(env);
  return stages.slice(0, stages.findIndex((s) => s.name === 'build') + 1);
}

/** The stage each `--until` stops after. */
export const UNTIL = { plan: 'decide', publish: 'tags', release: 'release', verify: 'verify', announce: 'pin' } as const satisfies Record<string, keyof ReleaseOutputs>;

export type Until = keyof typeof UNTIL;

export type ReleaseState = 'released' | 'unchanged' | 'planned' | 'stopped';

/** What became of a channel's release, from how its list ended. */
export function releaseOutcome(end: LoopEnd): ReleaseState {
  if (end.by === 'dry-run') return 'planned';
  if (end.by === 'stage' && end.stage === 'compare') return 'unchanged';
  return end.by === 'end' ? 'released' : 'stopped';
}

function releaseFacts(env: ReleaseEnv, a: Attesting, plan: Plan, catalog: Catalog): ReleaseFacts {
  return { plan, catalog, clients: env.clients, siteBaseUrl: env.config.site.baseUrl, source: sourceFrom(process.env, env.commit),
    catalogDigest: a.catalogDigest, ...(a.planId ? { planId: a.planId } : {}), cacheDir: env.cacheDir };
}

function attestationsOf(env: ReleaseEnv, out: Partial<ReleaseOutputs>, published: PublishedImage[]): { attestations?: ReleaseAttestations } {
  if (!env.signing) return {};
  return { attestations: releaseAttestations(need(out, 'plan').release, published, need(out, 'attest'), env.signing.verifier.describe) };
}

function attestDetail(a: AttestRecord, signing: Signing | undefined): string {
  if (!signing) return 'not signed (no signing configured)';
  const subjects = Object.keys(a).length;
  return `${subjects} digests signed and attested with ${signing.signer.describe}`;
}

function snsTopic(env: ReleaseEnv): { snsTopicArn?: string } {
  return env.config.announce.topicArn ? { snsTopicArn: env.config.announce.topicArn } : {};
}

function decisionsDetail(decisions: ImageDecision[]): string {
  const all = decisions.flatMap((d) => Object.values(d.platforms));
  const builds = all.filter((d) => d!.action === 'build').length;
  return `${builds} of ${all.length} platform images to build, ${all.length - builds} to reuse`;
}
