/** The build stage's record as the later stages use it: one published image per plan entry, index bytes decoded. */
import type { Platform } from '../../config/config.ts';
import type { ImagePlan, Plan } from '../../plan/plan.ts';
import type { Descriptor } from '../../image/media-types.ts';
import type { TagTarget } from '../../publish/tags.ts';
import type { ClientFactory } from '../../registry/client.ts';
import { bug } from '../../errors.ts';
import type { BuildRecord, PlatformRecord } from './types.ts';

export interface PublishedImage {
  plan: ImagePlan;
  index: Descriptor;
  indexBytes: Buffer;
  platforms: Partial<Record<Platform, PlatformRecord>>;
  /** Why this image differs from the last published one; undefined when identical. */
  changed?: string;
}

export function publishedImages(plan: Plan, record: BuildRecord): PublishedImage[] {
  return plan.images.map((p) => {
    const r = record[p.name];
    if (!r?.index || r.indexBytes === undefined) {
      bug(`${p.name} has no pushed index after the build stage`, 'this is a bug; run the release again to finish it');
    }
    return { plan: p, index: r.index, indexBytes: Buffer.from(r.indexBytes, 'base64'), platforms: r.platforms, ...(r.changed ? { changed: r.changed } : {}) };
  });
}

export function tagTargets(images: PublishedImage[], clients: ClientFactory): TagTarget[] {
  return images.map((img) => ({ client: clients(img.plan.registry), repository: img.plan.repository,
    index: { digest: img.index.digest, bytes: img.indexBytes }, tags: img.plan.tags }));
}
