/**
 * One platform image, carried out. A reuse must find its manifest served (or a channel of this run pushed
 * it or found it served), else the platform is decided again without it. A build goes to the builder the
 * decision names, through the port; a builder that refuses once it sees the parent is turned off for the
 * platform, which is decided again (and may then find that build published). So the key of what is pushed
 * always says how it was made.
 */
import type { ImageSpec } from '../../catalog/model.ts';
import type { Platform } from '../../config/config.ts';
import type { BuildEvent, BuildJob } from '../../builders/port.ts';
import { buildsPlatform } from '../../builders/select.ts';
import { bug } from '../../errors.ts';
import { ANNOTATION } from '../../image/annotations.ts';
import { createdOf, type Image } from '../../image/image.ts';
import type { Descriptor } from '../../image/media-types.ts';
import { pushPlatformImage } from '../../publish/platform-image.ts';
import type { Carry, ParentRef } from './carry.ts';
import { decideImage, type ParentView } from './decide.ts';
import { buildingElsewhere, claimBuild, servedInRun, sharedFor, sharePlatform } from './shared.ts';
import { unmadeUnit } from './split.ts';
import type { Decision, ImageFacts, PlatformRecord } from './types.ts';

export interface PlatformJob {
  f: ImageFacts; spec: ImageSpec; platform: Platform; decision: Decision;
  parents: { from: ParentView; builder?: ParentView }; from: ParentRef; builder: ParentRef | undefined;
}

type Build = Extract<Decision, { action: 'build' }>;

export async function executePlatform(c: Carry, job: PlatformJob): Promise<PlatformRecord> {
  const { f, platform } = job;
  const started = Date.now();
  const missing = new Set<string>();
  const redecided = new Set<string>();
  let options = c.input.options;
  for (let d = job.decision; ; d = decideImage(f, job.parents, options, missing).platforms[platform]!) {
    if (d.action === 'reuse') {
      if (d.source === 'tagged' || servedInRun(c.input.options.shared, d.key, d.manifest.digest, placeOf(f))
        || await c.input.client(f.plan.registry).headManifest(f.plan.repository, d.manifest.digest)) return reused(c, job, d, started);
      missing.add(d.manifest.digest);
      continue;
    }
    if (!d.key || !d.inputs) bug(`${f.plan.name} ${platform}: decided to build before its parents were known`);
    const built = sharedFor(c.input.options.shared, d.key, c.input.options.channel)?.manifest;
    if (built && !missing.has(built.digest) && !redecided.has(d.key)) {
      redecided.add(d.key); // another channel made this key since the decision: decided again, it is reused
      continue;
    }
    if (c.input.builds === false) throw unmadeUnit(f.plan.name, platform, c.input.options.channel, d.reason);
    const elsewhere = buildingElsewhere(c.input.options.shared, d.key, c.input.options.channel);
    if (elsewhere) {
      await elsewhere; // then decided again: the other channel's image is shared now (or it failed: built here)
      continue;
    }
    const endClaim = claimBuild(c.input.options.shared, d.key, c.input.options.channel ?? '');
    try {
      const key = d.key;
      const manifest = await c.slots(() => buildAndPush(c, job, { ...d, key }));
      if ('refused' in manifest) {
        options = { ...options, off: { ...options.off, [d.via]: manifest.refused } };
        continue;
      }
      const result: PlatformRecord = { key, inputs: d.inputs, manifest, built: true, reason: d.reason, ms: Date.now() - started };
      await record(c, job, result); // shared before the claim ends: a channel waiting for it then finds the image
      c.tools.emit({ type: 'image', image: f.plan.name, platform, state: 'pushed', detail: manifest.digest, ms: result.ms });
      return result;
    } finally {
      endClaim();
    }
  }
}

async function reused(c: Carry, job: PlatformJob, d: Extract<Decision, { action: 'reuse' }>, started: number): Promise<PlatformRecord> {
  c.tools.emit({ type: 'image', image: job.f.plan.name, platform: job.platform, state: 'reused', detail: d.manifest.digest });
  const result: PlatformRecord = { key: d.key, inputs: d.inputs, manifest: d.manifest, built: d.built, reason: d.reason, ms: Date.now() - started };
  if (d.source === 'tagged') await record(c, job, result);
  else share(c, job, result);
  return result;
}

/** Checkpointed, and shared with the channels after this one in the run. */
async function record(c: Carry, job: PlatformJob, result: PlatformRecord): Promise<void> {
  share(c, job, result);
  c.record[job.f.plan.name]!.platforms[job.platform] = result;
  await c.save();
}

function share(c: Carry, job: PlatformJob, result: PlatformRecord): void {
  const { shared, channel } = c.input.options;
  if (shared) sharePlatform(shared, channel ?? '', result, placeOf(job.f));
}

/** The registry and repository an image is pushed to. */
function placeOf(f: ImageFacts): string {
  return `${f.plan.registry}/${f.plan.repository}`;
}

/** Builds on the decided builder (in a build slot) and pushes the image by digest. */
async function buildAndPush(c: Carry, job: PlatformJob, d: Build & { key: string }): Promise<Descriptor | { refused: string }> {
  const { f, platform } = job;
  c.tools.stopPoint(`building ${f.plan.name} ${platform}`);
  c.tools.emit({ type: 'image', image: f.plan.name, platform, state: 'building', detail: d.reason, via: d.via, ...(d.engine ? { engine: d.engine } : {}) });
  const builder = (await c.input.builders()).find((b) => b.name === d.via && buildsPlatform(b, platform)) ?? bug(`${f.plan.name} ${platform}: no builder named ${d.via} for ${platform}`);
  const result = await builder.build(buildJob(c, job, d.key), (e) => report(c, job, e));
  return 'refused' in result ? result : push(c, job, result.image, d.key, JSON.stringify(d.inputs));
}

function buildJob(c: Carry, job: PlatformJob, key: string): BuildJob {
  const { f, platform, from, builder } = job;
  const parent = (p: ParentRef) => ({ source: p.origin, reference: p.reference, index: p.indexDigest, manifest: p.view.digests[platform]! });
  return { view: f.views[platform] ?? bug(`no recipe view for ${f.plan.name} ${platform}`), context: f.files[platform]!, key, cacheDir: c.input.cacheDir,
    parents: { from: parent(from), ...(builder ? { builder: parent(builder) } : {}) } };
}

function report(c: Carry, job: PlatformJob, e: BuildEvent): void {
  const at = { image: job.f.plan.name, platform: job.platform };
  if (e.kind === 'step' && e.state !== 'started') c.tools.emit({ type: 'step', ...at, name: e.name, state: e.state });
  if (e.kind === 'log') c.tools.emit({ type: 'log', ...at, text: e.text });
  if (e.kind === 'built') c.tools.emit({ type: 'image', ...at, state: 'built', detail: e.detail });
}

async function push(c: Carry, job: PlatformJob, image: Image, key: string, inputs: string): Promise<Descriptor> {
  const { f, platform, from } = job;
  const created = createdOf(image);
  const { descriptor } = await pushPlatformImage(c.input.client(f.plan.registry), f.plan.repository, image, {
    [ANNOTATION.baseName]: from.reference,
    [ANNOTATION.baseDigest]: from.view.digests[platform]!,
    [ANNOTATION.buildKey]: key,
    [ANNOTATION.buildInputs]: inputs,
    [ANNOTATION.created]: created,
  }, from.origin, c.input.limits);
  return { ...descriptor, annotations: { [ANNOTATION.buildKey]: key, [ANNOTATION.buildInputs]: inputs, [ANNOTATION.created]: created } };
}
