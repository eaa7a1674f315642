/**
 * The build-and-publish stage: every image in dependency order, independent images in parallel. For each
 * platform the build key decides between reusing a published image and building it (BuildKit), exporting
 * it and pushing it by digest; then the image index is pushed by digest. Tags are not touched here.
 */
import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import type { Catalog, ImageSpec } from '../catalog/model.ts';
import { imageByName, UPSTREAM } from '../catalog/model.ts';
import type { Platform } from '../config/config.ts';
import { EksdError } from '../errors.ts';
import type { Builder } from '../buildkit/builder.ts';
import { contextFiles, contextTar } from '../buildkit/context.ts';
import { exportImage, type ParentLayers } from '../buildkit/export.ts';
import { buildInputs, buildKey, explainChange, type BuildInputs } from '../plan/keys.ts';
import type { ImagePlan, Plan } from '../plan/plan.ts';
import { ANNOTATION } from '../publish/annotations.ts';
import { MEDIA, type Descriptor } from '../registry/media-types.ts';
import { indexBytes, pushIndex } from '../publish/index-manifest.ts';
import { pushPlatformImage, type BlobOrigin } from '../publish/platform-image.ts';
import type { PublishLimits } from '../publish/limits.ts';
import type { RegistryClient } from '../registry/client.ts';
import type { FetchedArtifact } from '../resolve/artifacts.ts';
import { limiter } from '../util/limit.ts';
import type { Emit } from './events.ts';
import type { Journal } from './journal.ts';
import { previousBuild, type PreviousBuild } from './previous.ts';

export interface PlatformResult { manifest: Descriptor; key: string; inputs: BuildInputs; built: boolean; reason: string; ms: number }

export interface PublishedImage {
  plan: ImagePlan;
  index: Descriptor;
  indexBytes: Buffer;
  platforms: Partial<Record<Platform, PlatformResult>>;
  /** Why this image differs from the last published one; undefined when identical. */
  changed?: string;
}

export interface Engine {
  docker: Docker;
  builder: Builder;
  /** Ends what the engine keeps for the run (the builder's endpoint serving parents); call once the run's builds are over. */
  close(): Promise<void>;
}

export interface ImageStageInput {
  plan: Plan;
  catalog: Catalog;
  artifacts: FetchedArtifact[];
  /** The engine is loaded on first use, so a run that builds nothing never starts it. */
  engine: () => Promise<Engine>;
  client: (registry: string) => RegistryClient;
  journal: Journal;
  emit: Emit;
  concurrency: number;
  force: boolean;
  cacheDir: string;
  /** Upload pacing and mount policy of the target registry (default: none). */
  limits?: PublishLimits;
  /** Only decide; build nothing (used by `eksd plan`). */
  decideOnly?: boolean;
}

/** Stands for a digest that only a build will produce (dry runs decide before building). */
const TO_BE_BUILT = 'sha256:(to be built)';

/** A parent as seen by a child: where it lives and its per-platform manifests. */
interface ParentRef { name: string; origin: BlobOrigin; indexDigest: string; reference: string; manifests: Partial<Record<Platform, string>> }

export async function buildAndPublish(input: ImageStageInput): Promise<PublishedImage[]> {
  const slots = limiter(Math.max(1, input.concurrency));
  const done = new Map<string, Promise<PublishedImage>>();
  const upstream = upstreamRef(input);
  const parentRef = async (name: string): Promise<ParentRef> => (name === UPSTREAM ? upstream : toParentRef(await done.get(name)!, input));
  for (const plan of input.plan.images) {
    const spec = imageByName(input.catalog, plan.name);
    done.set(plan.name, (async () => {
      // What the tags hold does not depend on the parents: read them while the parents are being made.
      // The versioned tag exists when an interrupted run of this very release (on any machine) tagged it.
      const client = input.client(plan.registry);
      const [from, builder, previous, interrupted] = await Promise.all([
        parentRef(spec.from), spec.builder ? parentRef(spec.builder) : undefined,
        previousBuild(client, plan.repository, plan.tags.floating[0]!), previousBuild(client, plan.repository, plan.tags.versioned),
      ]);
      return publishImage(input, spec, plan, { from, builder, previous, interrupted }, slots);
    })());
  }
  // Wait for all, so one failure does not leave other builds running unobserved; report the first.
  const settled = await Promise.allSettled(done.values());
  const failed = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<PublishedImage>).value);
}

function upstreamRef(input: ImageStageInput): ParentRef {
  const u = input.plan.upstream;
  return { name: UPSTREAM, origin: { client: input.client(u.registry), repository: u.repository },
    indexDigest: u.digest, reference: `${u.registry}/${u.repository}`, manifests: u.platforms };
}

function toParentRef(p: PublishedImage, input: ImageStageInput): ParentRef {
  const manifests = Object.fromEntries(Object.entries(p.platforms).map(([k, v]) => [k, v!.manifest.digest]));
  return { name: p.plan.name, origin: { client: input.client(p.plan.registry), repository: p.plan.repository },
    indexDigest: p.index.digest, reference: `${p.plan.registry}/${p.plan.repository}`, manifests };
}

async function publishImage(input: ImageStageInput, spec: ImageSpec, plan: ImagePlan,
  { from, builder, previous, interrupted }: { from: ParentRef; builder: ParentRef | undefined; previous: PreviousBuild | undefined; interrupted: PreviousBuild | undefined },
  slots: ReturnType<typeof limiter>): Promise<PublishedImage> {
  const client = input.client(plan.registry);
  const platforms: PublishedImage['platforms'] = {};
  await Promise.all(plan.platforms.map(async (platform) => {
    platforms[platform] = await publishPlatform(input, spec, plan, platform, from, builder, { previous, interrupted }, slots);
  }));
  if (input.decideOnly) return { plan, index: { mediaType: '', digest: '', size: 0 }, indexBytes: Buffer.alloc(0), platforms };
  const record = input.journal.image(plan.name);
  const bytes = indexBytes(plan.platforms.map((p) => ({ platform: p, manifest: entryDescriptor(platforms[p]!) })), {
    [ANNOTATION.baseName]: from.reference,
    [ANNOTATION.baseDigest]: from.indexDigest,
    [ANNOTATION.version]: plan.gitTag,
    [ANNOTATION.revision]: gitCommitOf(input, spec),
    [ANNOTATION.source]: sourceOf(input, spec),
    [ANNOTATION.title]: plan.name,
    [ANNOTATION.description]: plan.description,
    [ANNOTATION.created]: latestCreated(platforms, previous),
  });
  // Pushed already by this run (journal) or identical to the published one just read by its tag: no PUT.
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const index = record.index && record.indexBytes === bytes.toString('base64') ? record.index
    : previous?.indexDigest === digest ? { mediaType: MEDIA.ociIndex, digest, size: bytes.length }
      : await pushIndex(client, plan.repository, bytes);
  // A resumed run that already moved the tags sees its own index as the previous one: keep what the
  // interrupted run recorded for this index.
  const changed = record.index?.digest === index.digest && record.changed !== undefined ? record.changed
    : previous?.indexDigest === index.digest ? undefined : describeChange(plan, platforms, previous);
  await input.journal.update(() => { record.index = index; record.indexBytes = bytes.toString('base64'); if (changed) record.changed = changed; else delete record.changed; });
  input.emit({ type: 'image', image: plan.name, state: 'indexed', detail: index.digest });
  return { plan, index, indexBytes: bytes, platforms, ...(changed ? { changed } : {}) };
}

async function publishPlatform(input: ImageStageInput, spec: ImageSpec, plan: ImagePlan, platform: Platform,
  from: ParentRef, builder: ParentRef | undefined, { previous, interrupted }: { previous: PreviousBuild | undefined; interrupted: PreviousBuild | undefined },
  slots: ReturnType<typeof limiter>): Promise<PlatformResult> {
  const started = Date.now();
  const fromDigest = requireManifest(from, platform, plan);
  const builderDigest = builder ? requireManifest(builder, platform, plan) : undefined;
  const files = await contextFiles(spec, platform, input.artifacts);
  const dockerfile = spec.dockerfile.slice(spec.contextDir.length + 1);
  const inputs = buildInputs(files, dockerfile, spec.buildArgs, platform, fromDigest, builderDigest);
  const key = buildKey(inputs);
  const journaled = input.journal.image(plan.name).platforms[platform];
  const prior = previous?.platforms[platform];
  const tagged = interrupted?.platforms[platform];
  if (journaled?.key !== key && tagged?.key === key) return reuseTagged(input, plan, platform, tagged.manifest, { key, inputs, started });
  const reusable = journaled?.key === key ? journaled.manifest : !input.force && prior?.key === key ? prior.manifest : undefined;
  if (reusable && (input.decideOnly || await input.client(plan.registry).headManifest(plan.repository, reusable.digest))) {
    input.emit({ type: 'image', image: plan.name, platform, state: 'reused', detail: reusable.digest });
    const fromJournal = journaled?.key === key;
    // Built by an interrupted run of this release: the run reports it as built (and why); the plan, which
    // shows what is left to do, as reused.
    if (fromJournal && input.decideOnly) return { manifest: reusable, key, inputs, built: false, reason: 'built by the interrupted run of this release', ms: 0 };
    return { manifest: reusable, key, inputs, built: fromJournal ? journaled.built : false,
      reason: fromJournal && journaled.built ? journaled.reason ?? 'unchanged' : 'unchanged', ms: Date.now() - started };
  }
  const reason = input.force ? 'forced rebuild' : explainChange(prior?.inputs, inputs, { from: spec.from, ...(spec.builder ? { builder: spec.builder } : {}) });
  if (input.decideOnly) return { manifest: { mediaType: '', digest: TO_BE_BUILT, size: 0 }, key, inputs, built: true, reason, ms: 0 };
  // Only builds take a slot: deciding to reuse costs a manifest HEAD and must not wait behind builds.
  const manifest = await slots(() => {
    input.emit({ type: 'image', image: plan.name, platform, state: 'building', detail: reason });
    return buildPlatform(input, spec, plan, platform, { from, builder, fromDigest, key, inputs, dockerfile, files });
  });
  await input.journal.update(() => { input.journal.image(plan.name).platforms[platform] = { key, inputs, manifest, built: true, reason }; });
  const ms = Date.now() - started;
  input.emit({ type: 'image', image: plan.name, platform, state: 'pushed', detail: manifest.digest, ms });
  return { manifest, key, inputs, built: true, reason, ms };
}

/**
 * The platform image an interrupted run of this release pushed and tagged with this release's versioned
 * tag (its journal lost or moved aside): it is this release's image, reused even with --force, since
 * the versioned tag is immutable.
 */
async function reuseTagged(input: ImageStageInput, plan: ImagePlan, platform: Platform, manifest: Descriptor,
  o: { key: string; inputs: BuildInputs; started: number }): Promise<PlatformResult> {
  const reason = 'pushed by an interrupted run of this release';
  input.emit({ type: 'image', image: plan.name, platform, state: 'reused', detail: manifest.digest });
  if (!input.decideOnly) await input.journal.update(() => { input.journal.image(plan.name).platforms[platform] = { key: o.key, inputs: o.inputs, manifest, built: false, reason }; });
  return { manifest, key: o.key, inputs: o.inputs, built: false, reason, ms: Date.now() - o.started };
}

interface BuildParts {
  from: ParentRef; builder: ParentRef | undefined; fromDigest: string; key: string; inputs: BuildInputs;
  dockerfile: string; files: Awaited<ReturnType<typeof contextFiles>>;
}

async function buildPlatform(input: ImageStageInput, spec: ImageSpec, plan: ImagePlan, platform: Platform, parts: BuildParts): Promise<Descriptor> {
  // The builder names the parents in BASE_IMAGE / BUILDER_IMAGE (from our loopback endpoint when it can).
  const parents = { BASE_IMAGE: { ...parts.from.origin, digest: parts.from.indexDigest },
    ...(parts.builder ? { BUILDER_IMAGE: { ...parts.builder.origin, digest: parts.builder.indexDigest } } : {}) };
  const arch = platform.split('/')[1];
  const { docker, builder } = await input.engine();
  const result = await builder.build({
    image: plan.name, platform, context: contextTar(parts.files), dockerfile: parts.dockerfile, buildArgs: spec.buildArgs, parents,
    tag: `eksd-build/${plan.name}:${arch}-${parts.key.slice(7, 19)}`,
  }, (e) => {
    if (e.kind === 'step' && e.state !== 'started') input.emit({ type: 'step', image: plan.name, platform, name: e.name, state: e.state });
    if (e.kind === 'log') input.emit({ type: 'log', image: plan.name, platform, text: e.text });
  });
  input.emit({ type: 'image', image: plan.name, platform, state: 'built', detail: `${result.steps} steps, ${result.cachedSteps} cached` });
  const parentLayers = await layersOf(parts.from, platform);
  const exported = await exportImage(docker, result.imageId, parentLayers, input.cacheDir, result.parentNames);
  const created = (JSON.parse(exported.config.toString('utf8')) as { created?: string }).created ?? '';
  const { descriptor } = await pushPlatformImage(input.client(plan.registry), plan.repository, exported, {
    [ANNOTATION.baseName]: parts.from.reference,
    [ANNOTATION.baseDigest]: parts.fromDigest,
    [ANNOTATION.buildKey]: parts.key,
    [ANNOTATION.buildInputs]: JSON.stringify(parts.inputs),
    [ANNOTATION.created]: created,
  }, parts.from.origin, input.limits);
  return { ...descriptor, annotations: { [ANNOTATION.buildKey]: parts.key, [ANNOTATION.buildInputs]: JSON.stringify(parts.inputs), [ANNOTATION.created]: created } };
}

/** The parent's layers for one platform, so the export can reuse its compressed blobs. */
async function layersOf(parent: ParentRef, platform: Platform): Promise<ParentLayers> {
  const digest = parent.manifests[platform]!;
  const { client, repository } = parent.origin;
  const manifest = (await client.getManifest(repository, digest)).json as { config: Descriptor; layers: Descriptor[] };
  const config = JSON.parse((await client.getBlob(repository, manifest.config.digest)).toString('utf8')) as { rootfs: { diff_ids: string[] } };
  return { diffIds: config.rootfs.diff_ids, layers: manifest.layers.map(({ mediaType, digest: d, size }) => ({ mediaType, digest: d, size })) };
}

function requireManifest(parent: ParentRef, platform: Platform, plan: ImagePlan): string {
  const digest = parent.manifests[platform];
  if (digest === undefined) {
    throw new EksdError('PARENT_PLATFORM_MISSING', `${plan.name} needs ${parent.name} for ${platform}, which has none`, {
      where: parent.reference, hint: parent.name === UPSTREAM ? 'run `eksd watch-base --write` so the pin records every platform' : `build ${parent.name} for ${platform}`,
    });
  }
  return digest;
}

function entryDescriptor(r: PlatformResult): Descriptor {
  return { mediaType: r.manifest.mediaType, digest: r.manifest.digest, size: r.manifest.size,
    annotations: { [ANNOTATION.buildKey]: r.key, [ANNOTATION.buildInputs]: JSON.stringify(r.inputs),
      [ANNOTATION.created]: r.manifest.annotations?.[ANNOTATION.created] ?? '' } };
}

function latestCreated(platforms: PublishedImage['platforms'], previous: PreviousBuild | undefined): string {
  const times = Object.values(platforms).map((p) => p!.manifest.annotations?.[ANNOTATION.created] ?? '').filter(Boolean).sort();
  return times[times.length - 1] ?? previous?.created ?? '';
}

function describeChange(plan: ImagePlan, platforms: PublishedImage['platforms'], previous: PreviousBuild | undefined): string {
  if (!previous) return 'first build of this version';
  const reasons = [...new Set(Object.values(platforms).map((p) => p!.reason).filter((r) => r !== 'unchanged'))];
  return reasons.length ? reasons.join('; ') : `index of ${plan.name} changed`;
}

function gitCommitOf(input: ImageStageInput, spec: ImageSpec): string {
  return input.catalog.components.find((c) => c.name === spec.component)?.gitCommit ?? '';
}

function sourceOf(input: ImageStageInput, spec: ImageSpec): string {
  const project = input.catalog.components.find((c) => c.name === spec.component)?.project;
  return project ? `https://github.com/${project}` : 'https://github.com/aws/eks-distro-build-tooling';
}
