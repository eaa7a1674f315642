/**
 * Pushes one platform image (layers, config, manifest) by digest, no tag. Layers inherited from the
 * parent are mounted (same registry, when the registry supports it) or copied from the parent's
 * repository; new layers are uploaded. Uploads wait for the run's pacer when the registry limits them.
 */
import { createHash } from 'node:crypto';
import type { PushBlobOptions, PushedBlob, RegistryClient } from '../registry/client.ts';
import type { BlobSource } from '../registry/sources.ts';
import type { Image } from '../image/image.ts';
import type { ImageSource } from '../registry/image.ts';
import { MEDIA, type Descriptor } from '../image/media-types.ts';
import { copyBlob, type TransferPolicy } from '../registry/copy.ts';
import { transferPolicy, UNLIMITED, type PublishLimits } from './limits.ts';


export interface PushStats { uploaded: number; mounted: number; existing: number; bytes: number }

export async function pushPlatformImage(client: RegistryClient, repository: string, image: Image,
  annotations: Record<string, string>, parent: ImageSource | undefined,
  limits: PublishLimits = UNLIMITED): Promise<{ descriptor: Descriptor; stats: PushStats }> {
  const stats: PushStats = { uploaded: 0, mounted: 0, existing: 0, bytes: 0 };
  const count = (status: 'exists' | 'mounted' | 'uploaded', size: number) => {
    if (status === 'uploaded') { stats.uploaded++; stats.bytes += size; } else if (status === 'mounted') stats.mounted++; else stats.existing++;
  };
  const to = { client, repo: repository };
  const policy = transferPolicy(limits);
  // The config goes up beside the layers; only the manifest waits for all of them.
  await Promise.all([...image.layers.map(async (layer) => {
    const pushed = layer.path
      ? await pushBlob(to, { path: layer.path }, { digest: layer.digest, size: layer.size }, policy)
      : await copyBlob({ client: parent!.client, repo: parent!.repository }, to, layer, policy);
    count(pushed.status, layer.size);
  }), pushBlob(to, new Uint8Array(image.config), { digest: image.configDigest, size: image.config.length }, policy)
    .then((config) => count(config.status, image.config.length))]);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: image.configDigest, size: image.config.length },
    layers: image.layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    annotations,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = await client.putManifest(repository, `sha256:${createHash('sha256').update(bytes).digest('hex')}`, new Uint8Array(bytes), MEDIA.ociManifest);
  return { descriptor: { mediaType: MEDIA.ociManifest, digest, size: bytes.length }, stats };
}


/**
 * A new blob under the policy: the HEAD comes first (a blob already there costs no pacer turn), then the
 * upload holds one turn until it has completed. A blob that this run's client has pushed into the
 * repository already (another platform, an earlier image) costs no request at all.
 */
function pushBlob(to: { client: RegistryClient; repo: string }, source: BlobSource, options: PushBlobOptions & { digest: string }, policy: TransferPolicy): Promise<PushedBlob> {
  return to.client.pushBlob(to.repo, source, { ...options, ...(policy.pace ? { pace: policy.pace } : {}) });
}
