/** One platform image as the registry serves it: its config's bytes and its layers' descriptors, in manifest order. */
import type { RegistryClient } from './client.ts';
import type { Descriptor } from '../image/media-types.ts';

/** A repository of a registry, through its client: where an image's manifests and blobs are read. */
export interface ImageSource { client: RegistryClient; repository: string }

export interface PlatformImage { config: Buffer; layers: Descriptor[] }

export async function readPlatformImage(client: RegistryClient, repository: string, manifest: string): Promise<PlatformImage> {
  const m = (await client.getManifest(repository, manifest)).json as { config: Descriptor; layers: Descriptor[] };
  const layers = m.layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size }));
  return { config: Buffer.from(await client.getBlob(repository, m.config.digest)), layers };
}
