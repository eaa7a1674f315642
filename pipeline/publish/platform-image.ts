/**
 * Pushes one platform image (layers, config, manifest) by digest, no tag. Layers inherited from the
 * parent are mounted (same registry, when the registry supports it) or copied from the parent's
 * repository; new layers are uploaded. Uploads wait for the run's pacer when the registry limits them.
 */
import { createHash } from 'node:crypto';
import type { PushBlobOptions, PushedBlob, RegistryClient } from '../registry/client.ts';
import type { BlobSource } from '../registry/sources.ts';
import type { ExportedImage } from '../buildkit/export.ts';
import type { Descriptor } from '../registry/media-types.ts';
import { MEDIA } from '../registry/media-types.ts';
import { UNLIMITED, type PublishLimits } from './limits.ts';

export interface BlobOrigin { client: RegistryClient; repository: string }

export interface PushStats { uploaded: number; mounted: number; existing: number; bytes: number }

export async function pushPlatformImage(client: RegistryClient, repository: string, image: ExportedImage,
  annotations: Record<string, string>, parent: BlobOrigin | undefined,
  limits: PublishLimits = UNLIMITED): Promise<{ descriptor: Descriptor; stats: PushStats }> {
  const stats: PushStats = { uploaded: 0, mounted: 0, existing: 0, bytes: 0 };
  const count = (status: 'exists' | 'mounted' | 'uploaded', size: number) => {
    if (status === 'uploaded') { stats.uploaded++; stats.bytes += size; } else if (status === 'mounted') stats.mounted++; else stats.existing++;
  };
  const to = { client, repository };
  await Promise.all(image.layers.map(async (layer) => {
    const pushed = layer.path
      ? await pushBlob(to, { path: layer.path }, { digest: layer.digest, size: layer.size }, limits)
      : await copyBlob(parent!, to, layer, limits);
    count(pushed.status, layer.size);
  }));
  const config = await pushBlob(to, new Uint8Array(image.config), { digest: image.configDigest, size: image.config.length }, limits);
  count(config.status, image.config.length);
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

/** Makes a blob available in `to`: already there, mounted within one registry, or streamed across. */
export async function copyBlob(from: BlobOrigin, to: BlobOrigin, blob: Descriptor, limits: PublishLimits = UNLIMITED): Promise<PushedBlob> {
  const mount = limits.crossRepoMount && from.client.registry === to.client.registry && from.repository !== to.repository;
  return pushBlob(to, { open: () => from.client.getBlobStream(from.repository, blob.digest) }, {
    digest: blob.digest, size: blob.size, ...(mount ? { mountFrom: from.repository } : {}),
  }, limits);
}

/**
 * pushBlob under the limits. Paced: the HEAD comes first (a blob already there costs no pacer turn), then
 * the mount or upload that follows holds one turn until it has completed. A blob that this run's client
 * has pushed into the repository already (another platform, an earlier image) costs no request at all.
 */
function pushBlob(to: BlobOrigin, source: BlobSource, options: PushBlobOptions & { digest: string }, limits: PublishLimits): Promise<PushedBlob> {
  const pacer = limits.uploads;
  return to.client.pushBlob(to.repository, source, { ...options, ...(pacer ? { pace: (transfer) => pacer.run(transfer) } : {}) });
}
