/**
 * The manifest to verify after a republish: the release itself when the target is where it points,
 * else a mirror copy whose image URIs point at the target (same tags, same digests), written to
 * <site>/mirrors/<target>/<release>.yaml (or --output) only once it verifies.
 */
import { parseRelease, renderRelease } from '../../release/manifest.ts';
import type { Release } from '../../release/types.ts';
import { writeFileAtomic } from '../../util/fs-atomic.ts';
import { mirrorManifestPath, repoIn, type Location, type ReleaseImage } from './locate.ts';

export interface ToVerify { release: Release; mirror?: { path: string; text: string } }

export function manifestToVerify(release: Release, o: { mirror: boolean; images: ReleaseImage[]; target: Location; siteDir: string; output?: string }): ToVerify {
  if (!o.mirror) return { release };
  const path = o.output ?? mirrorManifestPath(o.siteDir, o.target, release.spec.channel, release.spec.number);
  const text = renderRelease(mirrorCopy(release, o.images, o.target));
  return { release: parseRelease(text, path), mirror: { path, text } };
}

/** Writes the mirror copy (once it is verified); the path written, if any. */
export async function writeMirror(v: ToVerify): Promise<string | undefined> {
  if (!v.mirror) return undefined;
  await writeFileAtomic(v.mirror.path, v.mirror.text);
  return v.mirror.path;
}

/** The release with every image URI pointing at the target (same tag, same digest). */
function mirrorCopy(release: Release, images: ReleaseImage[], target: Location): Release {
  const copyOf = structuredClone(release);
  for (const component of copyOf.status.components) {
    for (const asset of component.assets) {
      const image = images.find((i) => i.component === component.name && i.asset === asset.name);
      if (image && asset.image) asset.image.uri = `${target.registry}/${repoIn(target, image.rel)}:${image.tag}`;
    }
  }
  return copyOf;
}

