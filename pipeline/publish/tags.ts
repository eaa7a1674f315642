/**
 * Pointers move last: once every index is pushed by digest, each image gets its versioned tag (immutable:
 * never moved to a different digest) and its floating tags.
 */
import { EksdError } from '../errors.ts';
import type { RegistryClient } from '../registry/client.ts';
import { MEDIA } from './media.ts';

export interface TagMove { tag: string; action: 'created' | 'unchanged' | 'moved' }

export interface TagTarget {
  client: RegistryClient;
  repository: string;
  index: { digest: string; bytes: Buffer };
  tags: { versioned: string; floating: string[] };
}

/** Where each target's versioned tag points now (undefined: not there yet). */
export function versionedNow(targets: TagTarget[]): Promise<Array<string | undefined>> {
  return Promise.all(targets.map(async (t) => (await t.client.headManifest(t.repository, t.tags.versioned))?.digest));
}

/** Fails, naming every one, when a versioned tag already points at a different digest. */
export function assertNoConflict(targets: TagTarget[], current: Array<string | undefined>): void {
  const conflicts = targets.flatMap((t, i) => (current[i] && current[i] !== t.index.digest
    ? [`${t.client.describe(t.repository, t.tags.versioned)} points at ${current[i]}, not ${t.index.digest}`] : []));
  if (conflicts.length > 0) {
    throw new EksdError('TAG_CONFLICT', `${conflicts.length} versioned tag(s) already point elsewhere; no tag was moved:\n  ${conflicts.join('\n  ')}`, {
      where: conflicts[0]!.split(' points at')[0],
      hint: 'versioned tags are immutable: release under a new number (--number) or republish the existing release',
    });
  }
}

/** Moves one image's tags; `versioned` is where its versioned tag points now, as read by versionedNow. */
export async function moveTags(target: TagTarget, versioned: string | undefined): Promise<TagMove[]> {
  const { client, repository, index, tags } = target;
  return Promise.all([tags.versioned, ...tags.floating].map(async (tag): Promise<TagMove> => {
    const existing = tag === tags.versioned ? versioned : (await client.headManifest(repository, tag))?.digest;
    if (existing === index.digest) return { tag, action: 'unchanged' };
    await client.putManifest(repository, tag, new Uint8Array(index.bytes), MEDIA.ociIndex);
    return { tag, action: existing ? 'moved' : 'created' };
  }));
}
