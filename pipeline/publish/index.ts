/** Pushes an image index by digest (no tag: tags move later, in tags.ts). */
import type { RegistryClient } from '../registry/client.ts';
import { digestOf } from '../image/digest.ts';
import { MEDIA, type Descriptor } from '../image/media-types.ts';
import { Memo } from '../util/memo.ts';

/** Index PUTs by registry, repository and digest: channels of one run sharing an image write its index once. */
const pushed = new Memo<string>();

export async function pushIndex(client: RegistryClient, repository: string, bytes: Buffer): Promise<Descriptor> {
  const digest = digestOf(bytes);
  const put = await pushed.get(`${client.registry}/${repository}@${digest}`, () => client.putManifest(repository, digest, new Uint8Array(bytes), MEDIA.ociIndex));
  return { mediaType: MEDIA.ociIndex, digest: put, size: bytes.length };
}
