/**
 * Pushes one platform image (layers, config, manifest) by digest, no tag. Layers inherited from the
 * parent are mounted (same registry) or copied from the parent's repository; new layers are uploaded.
 */
import { createHash } from 'node:crypto';
import type { RegistryClient } from '../registry/client.ts';
import type { ExportedImage, Descriptor } from '../build/export.ts';
import { MEDIA } from './media.ts';

export interface BlobOrigin { client: RegistryClient; repository: string }

export interface PushStats { uploaded: number; mounted: number; existing: number; bytes: number }

export async function pushPlatformImage(client: RegistryClient, repository: string, image: ExportedImage,
  annotations: Record<string, string>, parent: BlobOrigin | undefined): Promise<{ descriptor: Descriptor; stats: PushStats }> {
  const stats: PushStats = { uploaded: 0, mounted: 0, existing: 0, bytes: 0 };
  const count = (status: 'exists' | 'mounted' | 'uploaded', size: number) => {
    if (status === 'uploaded') { stats.uploaded++; stats.bytes += size; } else if (status === 'mounted') stats.mounted++; else stats.existing++;
  };
  await Promise.all(image.layers.map(async (layer) => {
    const pushed = layer.path
      ? await client.pushBlob(repository, { path: layer.path }, { digest: layer.digest, size: layer.size })
      : await copyBlob(parent!, { client, repository }, layer);
    count(pushed.status, layer.size);
  }));
  const config = await client.pushBlob(repository, new Uint8Array(image.config), { digest: image.configDigest, size: image.config.length });
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
export async function copyBlob(from: BlobOrigin, to: BlobOrigin, blob: Descriptor) {
  const sameRegistry = from.client.registry === to.client.registry;
  return to.client.pushBlob(to.repository, { open: () => from.client.getBlobStream(from.repository, blob.digest) }, {
    digest: blob.digest, size: blob.size, ...(sameRegistry ? { mountFrom: from.repository } : {}),
  });
}
