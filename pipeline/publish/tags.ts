/**
 * Pointers move last: once every index is pushed by digest, each image gets its versioned tag (immutable:
 * never moved to a different digest) and its floating tags.
 */
import { EksdError } from '../errors.ts';
import type { RegistryClient } from '../registry/client.ts';
import { MEDIA } from './media.ts';

export interface TagMove { tag: string; action: 'created' | 'unchanged' | 'moved' }

export async function moveTags(client: RegistryClient, repository: string, index: { digest: string; bytes: Buffer },
  tags: { versioned: string; floating: string[] }): Promise<TagMove[]> {
  const moves: TagMove[] = [];
  const current = await client.headManifest(repository, tags.versioned);
  if (current && current.digest !== index.digest) {
    throw new EksdError('TAG_CONFLICT', `${client.describe(repository, tags.versioned)} already points at ${current.digest}, not ${index.digest}`, {
      where: client.describe(repository, tags.versioned),
      hint: 'versioned tags are immutable: release under a new number (--number) or republish the existing release',
    });
  }
  for (const tag of [tags.versioned, ...tags.floating]) {
    const existing = tag === tags.versioned ? current : await client.headManifest(repository, tag);
    if (existing?.digest === index.digest) { moves.push({ tag, action: 'unchanged' }); continue; }
    await client.putManifest(repository, tag, new Uint8Array(index.bytes), MEDIA.ociIndex);
    moves.push({ tag, action: existing ? 'moved' : 'created' });
  }
  return moves;
}
