/**
 * Carries the decisions out: every image in dependency order, independent images in parallel. A reused
 * platform image is checked to be served; a built one is assembled (assembled.ts) or goes through
 * BuildKit and is exported, then pushed by digest; then the image index is pushed by digest. A recipe
 * decided for the assembler is qualified again with its parent's config and the engine's BuildKit
 * version (assembled.ts); refused, it is decided again for BuildKit. An image whose parent was rebuilt is decided again
 * (decide.ts) once the parent is pushed. Tags are not touched here. Progress is checkpointed after every
 * platform and index, so a resumed run gets it back as `done`.
 */
import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import type { Catalog, ImageSpec } from '../../catalog/model.ts';
import { imageByName, UPSTREAM } from '../../catalog/model.ts';
import { bug } from '../../errors.ts';
import type { Platform } from '../../config/config.ts';
import type { Builder } from '../../build/buildkit/builder.ts';
import { contextTar, type ContextFile } from '../../build/buildkit/context.ts';
import { exportImage, type ParentLayers } from '../../build/buildkit/export.ts';
import type { ImagePlan, Plan } from '../../plan/plan.ts';
import { ANNOTATION } from '../../image/annotations.ts';
import { MEDIA, type Descriptor } from '../../image/media-types.ts';
import { indexBytes, pushIndex } from '../../image/index.ts';
import { readPlatformImage, type ImageSource } from '../../registry/image.ts';
import { pushPlatformImage } from '../../publish/platform-image.ts';
import type { PublishLimits } from '../../publish/limits.ts';
import type { ClientFactory } from '../../registry/client.ts';
import { limiter } from '../../util/limit.ts';
import type { Emit } from '../events.ts';
import type { ExportedImage } from '../../build/buildkit/export.ts';
import type { Recipe } from '../../build/assembler/recipe.ts';
import { assemblePlatform, parentCache, qualifyOnParent, type ParentCache, type ParentSource } from '../../build/assembler/builder.ts';
import { engineBuildKit, takesSourceDateEpoch } from '../../build/buildkit/version.ts';
import { decideImage, viewOf, type DecideOptions, type ParentView } from './decide.ts';
import { createdAt } from '../../image/source-date.ts';
import { sharePlatform } from './shared.ts';
import type { BuildRecord, Decision, ImageDecision, ImageFacts, ImageRecord, PlatformRecord } from './types.ts';

export interface Engine {
  docker: Docker;
  builder: Builder;
  /** Ends what the engine keeps for the run (the builder's endpoint serving parents); call once the run's builds are over. */
  close(): Promise<void>;
}

export interface ExecuteInput {
  plan: Plan;
  catalog: Catalog;
  facts: ImageFacts[];
  decisions: ImageDecision[];
  /** The engine is loaded on first use, so a run that builds nothing never starts it. */
  engine: () => Promise<Engine>;
  client: ClientFactory;
  options: DecideOptions;
  concurrency: number;
  cacheDir: string;
  /** Upload pacing and mount policy of the target registry (default: none). */
  limits?: PublishLimits;
  /** The engine's BuildKit (engineBuildKitOf), which an assembled image must equal. */
  buildkit?: string;
}

export interface ExecuteTools {
  emit: Emit;
  checkpoint(record: BuildRecord): Promise<void>;
  /** Throws when the run was asked to stop: called before each build starts (builds under way finish and are recorded). */
  stopPoint(before: string): void;
}

/** A parent as a child's build sees it: where it lives, its index and per-platform manifests. */
interface ParentRef { view: ParentView; origin: ImageSource; indexDigest: string; reference: string }

export async function execute(input: ExecuteInput, tools: ExecuteTools): Promise<BuildRecord> {
  const record: BuildRecord = {};
  for (const f of input.facts) if (f.done) record[f.plan.name] = structuredClone(f.done);
  const run: Run = { input, tools, record, slots: limiter(Math.max(1, input.concurrency)), save: () => tools.checkpoint(record),
    parents: parentCache(), sourceDateArg: undefined };
  const done = new Map<string, Promise<ParentRef>>([[UPSTREAM, Promise.resolve(upstreamRef(input))]]);
  input.facts.forEach((f, i) => {
    const parents = Promise.all([done.get(f.plan.from)!, f.plan.builder ? done.get(f.plan.builder)! : undefined]);
    done.set(f.plan.name, parents.then(([from, builder]) => executeImage(run, f, input.decisions[i]!, from, builder)));
  });
  // Wait for all, so one failure does not leave other builds running unobserved; report the first.
  const settled = await Promise.allSettled(done.values());
  const failed = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
  return record;
}

interface Run {
  input: ExecuteInput; tools: ExecuteTools; record: BuildRecord; slots: ReturnType<typeof limiter>; save(): Promise<void>;
  /** Parents the assembler has read, for the run. */
  parents: ParentCache;
  /** Whether the engine's BuildKit takes SOURCE_DATE_EPOCH; asked once, when the engine is first used. */
  sourceDateArg: Promise<boolean> | undefined;
}

function upstreamRef(input: ExecuteInput): ParentRef {
  const u = input.plan.upstream;
  return { view: { name: UPSTREAM, platforms: Object.keys(u.platforms) as Platform[], digests: u.platforms },
    origin: { client: input.client(u.registry), repository: u.repository }, indexDigest: u.digest, reference: `${u.registry}/${u.repository}` };
}

async function executeImage(run: Run, f: ImageFacts, decided: ImageDecision, from: ParentRef, builder: ParentRef | undefined): Promise<ParentRef> {
  const { input } = run;
  const parents = { from: from.view, ...(builder ? { builder: builder.view } : {}) };
  const waiting = Object.values(decided.platforms).some((d) => d!.action === 'build' && d!.key === undefined);
  const decision = waiting ? decideImage(f, parents, input.options) : decided;
  const spec = imageByName(input.catalog, f.plan.name);
  const image = (run.record[f.plan.name] ??= { platforms: {} });
  // Wait for every platform, so a failed one (or a stop) does not leave the other's build running unobserved.
  const platforms = await Promise.allSettled(f.plan.platforms.map(async (platform) => {
    image.platforms[platform] = await executePlatform(run, { f, spec, platform, decision: decision.platforms[platform]!, parents, from, builder });
  }));
  const failed = platforms.find((p) => p.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
  const index = await pushImageIndex(run, f, spec, image, from);
  const view = viewOf({ plan: f.plan, platforms: Object.fromEntries(Object.entries(image.platforms).map(([p, r]) => [p, reuse(r!)])) });
  return { view, origin: { client: input.client(f.plan.registry), repository: f.plan.repository }, indexDigest: index.digest, reference: `${f.plan.registry}/${f.plan.repository}` };
}

interface PlatformJob {
  f: ImageFacts; spec: ImageSpec; platform: Platform; decision: Decision;
  parents: { from: ParentView; builder?: ParentView }; from: ParentRef; builder: ParentRef | undefined;
}

async function executePlatform(run: Run, job: PlatformJob): Promise<PlatformRecord> {
  const { tools } = run;
  const { f, platform } = job;
  const started = Date.now();
  const final = await carriedOut(run, job);
  const d = final.decision;
  if (d.action === 'reuse') {
    tools.emit({ type: 'image', image: f.plan.name, platform, state: 'reused', detail: d.manifest.digest });
    const result: PlatformRecord = { key: d.key, inputs: d.inputs, manifest: d.manifest, built: d.built, reason: d.reason, ms: Date.now() - started };
    share(run, result);
    if (d.source === 'tagged') await checkpointPlatform(run, f, platform, result);
    return result;
  }
  if (!d.key || !d.inputs) bug(`${f.plan.name} ${platform}: decided to build before its parents were known`);
  const { key, inputs, reason } = d;
  // Only builds take a slot: deciding to reuse costs a manifest HEAD and must not wait behind builds.
  const manifest = await run.slots(async () => {
    tools.stopPoint(`building ${f.plan.name} ${platform}`);
    tools.emit({ type: 'image', image: f.plan.name, platform, state: 'building', detail: reason });
    const built = final.recipe ? await assembleOne(run, job, final.recipe) : await buildKitOne(run, job, key);
    return pushBuilt(run, job, built, key, JSON.stringify(inputs));
  });
  const result: PlatformRecord = { key, inputs, manifest, built: true, reason, ms: Date.now() - started };
  share(run, result);
  await checkpointPlatform(run, f, platform, result);
  tools.emit({ type: 'image', image: f.plan.name, platform, state: 'pushed', detail: manifest.digest, ms: result.ms });
  return result;
}

/** This channel's platform image for the key, for the channels after it in this run. */
function share(run: Run, result: PlatformRecord): void {
  const { shared, channel } = run.input.options;
  if (shared) sharePlatform(shared, channel ?? '', result);
}

async function checkpointPlatform(run: Run, f: ImageFacts, platform: Platform, result: PlatformRecord): Promise<void> {
  run.record[f.plan.name]!.platforms[platform] = result;
  await run.save();
}

interface Built { image: ExportedImage; created: string }

/**
 * The decision as carried out. A reuse must find its manifest served, else the platform is decided again
 * without it. A build to assemble is qualified again, now with the parent's config and the engine's
 * BuildKit; refused, the platform is decided again for BuildKit (which may find that build published).
 * So the key of what is pushed always says how it was made.
 */
async function carriedOut(run: Run, job: PlatformJob): Promise<{ decision: Decision; recipe?: Recipe }> {
  const { f, platform, spec } = job;
  const missing = new Set<string>();
  let options = run.input.options;
  let refusal: string | undefined;
  for (let d = job.decision; ; d = decideImage(f, job.parents, options, missing).platforms[platform]!) {
    if (d.action === 'reuse') {
      if (d.source === 'tagged' || await run.input.client(f.plan.registry).headManifest(f.plan.repository, d.manifest.digest)) return { decision: d };
      missing.add(d.manifest.digest);
      continue;
    }
    if (d.via !== 'assemble') return { decision: refusal ? { ...d, viaReason: refusal } : d };
    const first = f.qualified[platform];
    if (!first?.assemble) bug(`${f.plan.name} ${platform}: decided to assemble a recipe that does not qualify`);
    const q = await qualifyOnParent(spec, platform, first.recipe.base.kind === 'parent' ? parentOf(job) : undefined, run.input.buildkit);
    if (q.assemble) return { decision: d, recipe: q.recipe };
    options = { ...options, assemble: false };
    refusal = q.reason;
  }
}

function parentOf(job: PlatformJob): ParentSource {
  return { ...job.from.origin, manifest: job.from.view.digests[job.platform]! };
}

async function assembleOne(run: Run, job: PlatformJob, recipe: Recipe): Promise<Built> {
  const { f, platform } = job;
  const image = await assemblePlatform({ image: f.plan.name, platform, recipe, context: f.files[platform]!,
    parent: parentOf(job), epoch: f.epoch, cacheDir: run.input.cacheDir }, run.parents);
  run.tools.emit({ type: 'image', image: f.plan.name, platform, state: 'built', detail: `assembled, ${image.layers.length - image.inherited} layers` });
  return { image, created: createdAt(f.epoch) };
}

async function buildKitOne(run: Run, job: PlatformJob, key: string): Promise<Built> {
  const { input, tools } = run;
  const { f, spec, platform, from, builder } = job;
  const plan = f.plan;
  // The builder names the parents in BASE_IMAGE / BUILDER_IMAGE (from our loopback endpoint when it can).
  const parents = { BASE_IMAGE: { ...from.origin, digest: from.indexDigest },
    ...(builder ? { BUILDER_IMAGE: { ...builder.origin, digest: builder.indexDigest } } : {}) };
  const arch = platform.split('/')[1];
  const engine = await input.engine();
  const epochArg = await (run.sourceDateArg ??= sourceDateArg(engine));
  const files: ContextFile[] = f.files[platform]!;
  const result = await engine.builder.build({
    image: plan.name, platform, context: contextTar(files), dockerfile: spec.dockerfile.slice(spec.contextDir.length + 1),
    buildArgs: epochArg ? { ...spec.buildArgs, SOURCE_DATE_EPOCH: String(f.epoch) } : spec.buildArgs, parents,
    tag: `eksd-build/${plan.name}:${arch}-${key.slice(7, 19)}`,
  }, (e) => {
    if (e.kind === 'step' && e.state !== 'started') tools.emit({ type: 'step', image: plan.name, platform, name: e.name, state: e.state });
    if (e.kind === 'log') tools.emit({ type: 'log', image: plan.name, platform, text: e.text });
  });
  tools.emit({ type: 'image', image: plan.name, platform, state: 'built', detail: `${result.steps} steps, ${result.cachedSteps} cached` });
  const image = await exportImage(engine.docker, result.imageId, await layersOf(from, platform), input.cacheDir, result.parentNames);
  return { image, created: (JSON.parse(image.config.toString('utf8')) as { created?: string }).created ?? '' };
}

/** BuildKit 0.13+ takes SOURCE_DATE_EPOCH; an engine that does not say which BuildKit it runs gets none. */
async function sourceDateArg(engine: Engine): Promise<boolean> {
  return takesSourceDateEpoch(engineBuildKit(await engine.docker.version().catch(() => ({}))));
}

async function pushBuilt(run: Run, job: PlatformJob, built: Built, key: string, inputs: string): Promise<Descriptor> {
  const { input } = run;
  const { f, platform, from } = job;
  const { descriptor } = await pushPlatformImage(input.client(f.plan.registry), f.plan.repository, built.image, {
    [ANNOTATION.baseName]: from.reference,
    [ANNOTATION.baseDigest]: from.view.digests[platform]!,
    [ANNOTATION.buildKey]: key,
    [ANNOTATION.buildInputs]: inputs,
    [ANNOTATION.created]: built.created,
  }, from.origin, input.limits);
  return { ...descriptor, annotations: { [ANNOTATION.buildKey]: key, [ANNOTATION.buildInputs]: inputs, [ANNOTATION.created]: built.created } };
}

/** The parent's layers for one platform, so the export can reuse its compressed blobs. */
async function layersOf(parent: ParentRef, platform: Platform): Promise<ParentLayers> {
  const { config, layers } = await readPlatformImage(parent.origin.client, parent.origin.repository, parent.view.digests[platform]!);
  return { diffIds: (JSON.parse(config.toString('utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids, layers };
}

async function pushImageIndex(run: Run, f: ImageFacts, spec: ImageSpec, image: ImageRecord, from: ParentRef): Promise<Descriptor> {
  const { input, tools } = run;
  const plan = f.plan;
  const bytes = indexBytes(plan.platforms.map((p) => ({ platform: p, manifest: entryDescriptor(image.platforms[p]!) })), {
    [ANNOTATION.baseName]: from.reference,
    [ANNOTATION.baseDigest]: from.indexDigest,
    [ANNOTATION.version]: plan.gitTag,
    [ANNOTATION.revision]: componentOf(input.catalog, spec)?.gitCommit ?? '',
    [ANNOTATION.source]: sourceOf(input.catalog, spec),
    [ANNOTATION.title]: plan.name,
    [ANNOTATION.description]: plan.description,
    [ANNOTATION.created]: latestCreated(image, f),
  });
  // Pushed already (recorded) or identical to the published one just read by its tag: no PUT.
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const recorded = image.index && image.indexBytes === bytes.toString('base64') ? image.index : undefined;
  const index = recorded ?? (f.published?.indexDigest === digest ? { mediaType: MEDIA.ociIndex, digest, size: bytes.length }
    : await pushIndex(input.client(plan.registry), plan.repository, bytes));
  // A resumed run that already moved the tags sees its own index as the published one: keep what the
  // interrupted run recorded for this index.
  const changed = recorded && image.changed !== undefined ? image.changed
    : f.published?.indexDigest === index.digest ? undefined : describeChange(plan, image, f);
  image.index = index;
  image.indexBytes = bytes.toString('base64');
  if (changed) image.changed = changed; else delete image.changed;
  await run.save();
  tools.emit({ type: 'image', image: plan.name, state: 'indexed', detail: index.digest });
  return index;
}

function reuse(r: PlatformRecord): Decision {
  return { action: 'reuse', source: 'run', key: r.key, inputs: r.inputs, manifest: r.manifest, built: r.built, reason: r.reason };
}

function entryDescriptor(r: PlatformRecord): Descriptor {
  return { mediaType: r.manifest.mediaType, digest: r.manifest.digest, size: r.manifest.size,
    annotations: { [ANNOTATION.buildKey]: r.key, [ANNOTATION.buildInputs]: JSON.stringify(r.inputs),
      [ANNOTATION.created]: r.manifest.annotations?.[ANNOTATION.created] ?? '' } };
}

function latestCreated(image: ImageRecord, f: ImageFacts): string {
  const times = Object.values(image.platforms).map((p) => p!.manifest.annotations?.[ANNOTATION.created] ?? '').filter(Boolean).sort();
  return times[times.length - 1] ?? f.published?.created ?? '';
}

function describeChange(plan: ImagePlan, image: ImageRecord, f: ImageFacts): string {
  if (!f.published) return 'first build of this version';
  const reasons = [...new Set(Object.values(image.platforms).map((p) => p!.reason).filter((r) => r !== 'unchanged'))];
  return reasons.length ? reasons.join('; ') : `index of ${plan.name} changed`;
}

function componentOf(catalog: Catalog, spec: ImageSpec) {
  return catalog.components.find((c) => c.name === spec.component);
}

function sourceOf(catalog: Catalog, spec: ImageSpec): string {
  const project = componentOf(catalog, spec)?.project;
  return project ? `https://github.com/${project}` : 'https://github.com/aws/eks-distro-build-tooling';
}
