/**
 * What changed in a release's images compared with the previous release of the channel. The Release
 * does not carry reasons, so they are derived: a different index digest is a change; with a different
 * component gitTag it is a version bump, otherwise a rebuild (base image or recipe updated).
 */
import type { Release } from './types.ts';

export const FIRST_RELEASE = 'first release in channel';

export interface ImageChange {
  component: string;
  /** asset name */
  image: string;
  uri: string;
  digest: string | null;
  /** null when unchanged */
  changed: string | null;
}

export interface ReleaseChanges {
  previous: string | null;
  images: ImageChange[];
  /** `<component>/<asset>` of images no longer in the release */
  removed: string[];
}

interface PrevImage {
  gitTag: string;
  digest: string | undefined;
}

function previousImages(previous: Release): Map<string, PrevImage> {
  const out = new Map<string, PrevImage>();
  for (const c of previous.status.components) {
    for (const a of c.assets) {
      if (a.type === 'Image' && a.image) out.set(`${c.name}/${a.name}`, { gitTag: c.gitTag, digest: a.image.imageDigest });
    }
  }
  return out;
}

function reason(gitTag: string, digest: string | undefined, prev: PrevImage | undefined, why: string | undefined): string | null {
  if (!prev) return 'new image';
  if (!digest || !prev.digest) return 'digest not recorded in one of the releases';
  if (digest === prev.digest) return null;
  return prev.gitTag !== gitTag
    ? `new digest, version ${prev.gitTag} -> ${gitTag}`
    : `new digest, rebuilt (${why ?? 'base image or recipe updated'})`;
}

/** `reasons` (asset name -> why it was rebuilt, as the build keys say) makes rebuild reasons exact. */
export function imageChanges(release: Release, previous?: Release, reasons: Record<string, string> = {}): ReleaseChanges {
  const prev = previous ? previousImages(previous) : undefined;
  const images: ImageChange[] = [];
  for (const c of release.status.components) {
    for (const a of c.assets) {
      if (a.type !== 'Image' || !a.image) continue;
      const key = `${c.name}/${a.name}`;
      images.push({
        component: c.name, image: a.name, uri: a.image.uri, digest: a.image.imageDigest ?? null,
        changed: prev ? reason(c.gitTag, a.image.imageDigest, prev.get(key), reasons[a.name]) : FIRST_RELEASE,
      });
      prev?.delete(key);
    }
  }
  return { previous: previous?.metadata.name ?? null, images, removed: prev ? [...prev.keys()].sort() : [] };
}
