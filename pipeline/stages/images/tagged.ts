/**
 * What an image's tag holds, read from the registry: the index entries carry each platform's build key
 * and inputs, so deciding "reuse or build" costs one manifest GET per image and tag.
 */
import type { Platform } from '../../config/config.ts';
import type { Descriptor } from '../../image/media-types.ts';
import { parseBuildInputs } from '../../image/keys.ts';
import { ANNOTATION } from '../../image/annotations.ts';
import type { RegistryClient } from '../../registry/client.ts';
import { isEksdError } from '../../errors.ts';
import type { TaggedBuild } from './types.ts';

interface IndexJson {
  manifests?: Array<Descriptor & { platform?: { os: string; architecture: string } }>;
  annotations?: Record<string, string>;
}

export async function readTagged(client: RegistryClient, repository: string, tag: string): Promise<TaggedBuild | undefined> {
  let index;
  try {
    index = await client.getManifest(repository, tag);
  } catch (e) {
    if (isEksdError(e) && (e.code === 'REGISTRY_MANIFEST_UNKNOWN' || e.code === 'REGISTRY_NAME_UNKNOWN')) return undefined;
    throw e;
  }
  if (!index) return undefined;
  const json = index.json as IndexJson;
  const platforms: TaggedBuild['platforms'] = {};
  for (const m of json.manifests ?? []) {
    const key = m.annotations?.[ANNOTATION.buildKey];
    if (!m.platform || !key) continue;
    const inputs = parseBuildInputs(m.annotations?.[ANNOTATION.buildInputs]);
    platforms[`${m.platform.os}/${m.platform.architecture}` as Platform] = {
      key, ...(inputs ? { inputs } : {}),
      manifest: { mediaType: m.mediaType, digest: m.digest, size: m.size, ...(m.annotations ? { annotations: m.annotations } : {}) },
    };
  }
  const created = json.annotations?.[ANNOTATION.created];
  return { indexDigest: index.digest, ...(created ? { created } : {}), platforms };
}
