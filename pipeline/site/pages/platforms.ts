/**
 * The per-platform digests of an image, for its release page. The manifest records the image's index
 * digest; the index stored under that digest lists each platform's manifest, so what it says is fixed
 * by the manifest. Read from the index's bytes when the run has them (the release stage), else from
 * the registry by digest (`eksd site`).
 */
import { EksdError } from '../../errors.ts';
import type { ClientFactory } from '../../registry/client.ts';
import { parseTagReference } from '../../registry/reference.ts';

export interface PlatformDigest { platform: string; digest: string }

/** The platforms of the index `digest` of the image at `uri` (tag form, from the manifest). */
export type PlatformDigests = (uri: string, digest: string) => Promise<PlatformDigest[]>;

interface IndexJson { manifests?: Array<{ digest: string; platform?: { os: string; architecture: string; variant?: string } }> }

/** The platform entries of an OCI index or Docker manifest list, in the order it lists them. */
export function platformsOfIndex(json: unknown, where: string): PlatformDigest[] {
  const manifests = (json as IndexJson | null)?.manifests;
  if (!Array.isArray(manifests)) {
    throw new EksdError('SITE_IMAGE_INDEX', `${where} is not an image index (no manifests list)`, {
      where, hint: 'the manifest records an index digest for every image; check that the digest names the multi-platform index',
    });
  }
  return manifests.map((m) => ({ digest: m.digest, platform: m.platform ? [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/') : 'unknown' }));
}

/** From the indexes a run pushed, by digest (their bytes are what the registry holds under it). */
export function fromIndexBytes(indexes: Map<string, Buffer>, fallback?: PlatformDigests): PlatformDigests {
  return async (uri, digest) => {
    const bytes = indexes.get(digest);
    if (bytes) return platformsOfIndex(JSON.parse(bytes.toString('utf8')), `${uri}@${digest}`);
    if (fallback) return fallback(uri, digest);
    throw new EksdError('SITE_IMAGE_INDEX', `the index ${digest} of ${uri} is not one this run pushed`, { where: uri, hint: 'run eksd site to write the page from the registry' });
  };
}

/** From the registry, by digest. */
export function fromRegistry(clients: ClientFactory): PlatformDigests {
  return async (uri, digest) => {
    const ref = parseTagReference(uri);
    if (!ref) throw new EksdError('SITE_IMAGE_INDEX', `image uri ${uri} is not in tag form`, { where: uri, hint: 'the manifest is not one eksd wrote; check it with eksd verify' });
    const index = await clients(ref.registry).getManifest(ref.repository, digest).catch((cause: unknown) => {
      throw new EksdError('SITE_IMAGE_INDEX', `could not read the index ${digest} of ${uri} from the registry`, {
        where: `${ref.registry}/${ref.repository}@${digest}`, hint: 'the release page lists each platform\'s digest from the index; check the registry is reachable, then run eksd site again', cause,
      });
    });
    return platformsOfIndex(index.json, `${uri}@${digest}`);
  };
}
