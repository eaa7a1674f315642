/**
 * Pointers move last: once every index is pushed by digest, each image gets its versioned tag (immutable:
 * never moved to a different digest); its floating tags move only once the release is on the site and
 * verified, just before it is announced.
 */
import { EksdError } from '../errors.ts';
import type { RegistryClient } from '../registry/client.ts';
import { MEDIA } from '../image/media-types.ts';

export interface TagMove { tag: string; action: 'created' | 'unchanged' | 'moved' }

export interface TagTarget {
  client: RegistryClient;
  repository: string;
  /** The index the tags point at; its media type when it is not an OCI index (a copied Docker manifest list). */
  index: { digest: string; bytes: Buffer; mediaType?: string };
  tags: { versioned: string; floating: string[] };
}

/** Where each of a target's tags points now, by tag (undefined: not there yet). */
export type TagsNow = Record<string, string | undefined>;

/** Reads where the tags of every target point (its versioned tag, its floating ones, or all), in one round of HEADs before any tag moves. */
export function tagsNow(targets: TagTarget[], which: 'versioned' | 'floating' | 'all'): Promise<TagsNow[]> {
  const tagsOf = (t: TagTarget): string[] => [...(which === 'floating' ? [] : [t.tags.versioned]), ...(which === 'versioned' ? [] : t.tags.floating)];
  return Promise.all(targets.map(async (t) => Object.fromEntries(await Promise.all(tagsOf(t)
    .map(async (tag) => [tag, (await t.client.headManifest(t.repository, tag))?.digest] as const)))));
}

/** Fails, naming every one, when a versioned tag already points at a different digest. */
export function assertNoConflict(targets: TagTarget[], now: TagsNow[]): void {
  const conflicts = targets.flatMap((t, i) => {
    const current = now[i]![t.tags.versioned];
    return current && current !== t.index.digest ? [`${t.client.describe(t.repository, t.tags.versioned)} points at ${current}, not ${t.index.digest}`] : [];
  });
  if (conflicts.length > 0) {
    throw new EksdError('TAG_CONFLICT', `${conflicts.length} versioned tag(s) already point elsewhere; no tag was moved:\n  ${conflicts.join('\n  ')}`, {
      where: conflicts[0]!.split(' points at')[0],
      hint: 'versioned tags are immutable: release under a new number (--number) or republish the existing release',
    });
  }
}

/** Moves one image's versioned or floating tags; `now` is where they point, as read by tagsNow. */
export async function moveTags(target: TagTarget, now: TagsNow, which: 'versioned' | 'floating'): Promise<TagMove[]> {
  const { client, repository, index, tags } = target;
  return Promise.all((which === 'versioned' ? [tags.versioned] : tags.floating).map(async (tag): Promise<TagMove> => {
    const existing = now[tag];
    if (existing === index.digest) return { tag, action: 'unchanged' };
    await client.putManifest(repository, tag, new Uint8Array(index.bytes), index.mediaType ?? MEDIA.ociIndex);
    return { tag, action: existing ? 'moved' : 'created' };
  }));
}
