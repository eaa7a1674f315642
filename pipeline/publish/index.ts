/** Pushes an image index by digest (no tag: tags move later, in tags.ts). */
import type { RegistryClient } from '../registry/client.ts';
import { digestOf } from '../image/digest.ts';
import { MEDIA, type Descriptor } from '../image/media-types.ts';

export async function pushIndex(client: RegistryClient, repository: string, bytes: Buffer): Promise<Descriptor> {
  const digest = digestOf(bytes);
  const pushed = await client.putManifest(repository, digest, new Uint8Array(bytes), MEDIA.ociIndex);
  return { mediaType: MEDIA.ociIndex, digest: pushed, size: bytes.length };
}
