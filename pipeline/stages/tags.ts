/**
 * Versioned tags, once every index is pushed by digest: each image's `<gitTag>-eks-<ch>-<N>` points at
 * its index. Versioned tags are immutable, so a tag already pointing elsewhere stops the run before any
 * tag moves; and a resumed run whose tags already moved must still have the images it tagged.
 */
import { EksdError } from '../errors.ts';
import { assertNoConflict, moveTags, tagsNow } from '../publish/tags.ts';
import type { ClientFactory } from '../registry/client.ts';
import { tagTargets, type PublishedImage } from './images/published.ts';

/** What the versioned tags point at, by image: the stage's output. */
export interface TagsRecord { indexes: Record<string, string> }

export interface TagsInput {
  images: PublishedImage[];
  clients: ClientFactory;
  /** Set when an interrupted run of this release already moved them. */
  recorded?: TagsRecord;
  release: { channel: string; number: number; journal: string };
}

export async function moveVersionedTags(input: TagsInput): Promise<TagsRecord> {
  const { images, release } = input;
  const targets = tagTargets(images, input.clients);
  const now = await tagsNow(targets, 'versioned');
  const record = { indexes: Object.fromEntries(images.map((i) => [i.plan.name, i.index.digest])) };
  if (input.recorded) {
    // Its images must still be the ones it tagged, or the manifest would record digests its versioned
    // tags do not serve (and that can never be fixed).
    const i = images.findIndex((img, n) => { const tagged = now[n]![img.plan.tags.versioned]; return tagged && tagged !== img.index.digest; });
    if (i >= 0) {
      const img = images[i]!;
      throw new EksdError('RUN_INPUTS_CHANGED', `release ${release.number} of channel ${release.channel} was interrupted after its tags moved, and its images changed since: ${img.plan.tags.versioned} of ${img.plan.registry}/${img.plan.repository} points at ${now[i]![img.plan.tags.versioned]}, this run made ${img.index.digest}${img.changed ? ` (${img.changed})` : ''}`, {
        where: release.journal, hint: `restore the inputs release ${release.number} started with (the base pin, the catalog) and run it again to finish it; the new inputs go into the next release`,
      });
    }
    return record;
  }
  assertNoConflict(targets, now);
  await Promise.all(targets.map((t, n) => moveTags(t, now[n]!, 'versioned')));
  return record;
}
