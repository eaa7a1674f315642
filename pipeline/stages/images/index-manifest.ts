/**
 * An image's multi-arch index, once its platforms are pushed: written canonically (image/index.ts) with
 * the image's annotations, pushed by digest unless recorded or already the published one, and what
 * changed since the published index, in words.
 */
import type { Catalog, ImageSpec } from '../../catalog/model.ts';
import { ANNOTATION } from '../../image/annotations.ts';
import { digestOf } from '../../image/digest.ts';
import { indexBytes } from '../../image/index.ts';
import { MEDIA, type Descriptor } from '../../image/media-types.ts';
import { pushIndex } from '../../publish/index.ts';
import type { Carry, ParentRef } from './carry.ts';
import type { ImageFacts, ImageRecord, PlatformRecord } from './types.ts';

export async function pushImageIndex(c: Carry, f: ImageFacts, spec: ImageSpec, image: ImageRecord, from: ParentRef): Promise<Descriptor> {
  const { input, tools } = c;
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
  const digest = digestOf(bytes);
  const recorded = image.index && image.indexBytes === bytes.toString('base64') ? image.index : undefined;
  const index = recorded ?? (f.published?.indexDigest === digest ? { mediaType: MEDIA.ociIndex, digest, size: bytes.length }
    : await pushIndex(input.client(plan.registry), plan.repository, bytes));
  // A resumed run that already moved the tags sees its own index as the published one: keep what the
  // interrupted run recorded for this index.
  const changed = recorded && image.changed !== undefined ? image.changed
    : f.published?.indexDigest === index.digest ? undefined : describeChange(image, f);
  image.index = index;
  image.indexBytes = bytes.toString('base64');
  if (changed) image.changed = changed; else delete image.changed;
  await c.save();
  tools.emit({ type: 'image', image: plan.name, state: 'indexed', detail: index.digest });
  return index;
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

function describeChange(image: ImageRecord, f: ImageFacts): string {
  if (!f.published) return 'first build of this version';
  const reasons = [...new Set(Object.values(image.platforms).map((p) => p!.reason).filter((r) => r !== 'unchanged'))];
  return reasons.length ? reasons.join('; ') : `index of ${f.plan.name} changed`;
}

function componentOf(catalog: Catalog, spec: ImageSpec) {
  return catalog.components.find((c) => c.name === spec.component);
}

function sourceOf(catalog: Catalog, spec: ImageSpec): string {
  const project = componentOf(catalog, spec)?.project;
  return project ? `https://github.com/${project}` : 'https://github.com/aws/eks-distro-build-tooling';
}
