/**
 * The manifest to verify after a republish: the release itself when the target is where it points,
 * else a mirror copy whose image URIs point at the target (same tags, same digests), written to the
 * site store at mirrors/<target>/<release>.yaml (or to the --output file) only once it verifies.
 */
import { parseRelease, renderRelease } from '../../release/manifest.ts';
import type { Release } from '../../release/types.ts';
import type { Store } from '../../store/store.ts';
import { writeFileAtomic } from '../../util/fs-atomic.ts';
import { mirrorManifestKey, repoIn, type Location, type ReleaseImage } from './locate.ts';

/** The mirror copy goes to a site key, or to the file --output names. */
export interface ToVerify { release: Release; mirror?: { text: string } & ({ key: string } | { file: string }) }

export function manifestToVerify(release: Release, o: { mirror: boolean; images: ReleaseImage[]; target: Location; site: Store; output?: string }): ToVerify {
  if (!o.mirror) return { release };
  const text = renderRelease(mirrorCopy(release, o.images, o.target));
  if (o.output) return { release: parseRelease(text, o.output), mirror: { text, file: o.output } };
  const key = mirrorManifestKey(o.target, release.spec.channel, release.spec.number);
  return { release: parseRelease(text, o.site.where(key)), mirror: { text, key } };
}

/** Writes the mirror copy (once it is verified); where it was written, if anywhere. */
export async function writeMirror(v: ToVerify, site: Store): Promise<string | undefined> {
  if (!v.mirror) return undefined;
  if ('file' in v.mirror) {
    await writeFileAtomic(v.mirror.file, v.mirror.text);
    return v.mirror.file;
  }
  await site.put(v.mirror.key, v.mirror.text);
  return site.where(v.mirror.key);
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

