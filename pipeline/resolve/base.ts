/**
 * The upstream base image: resolve its tag to the index digest and per-platform digests, compare with
 * the pin like with like (index with index, each platform with the same platform), and write the pin.
 */
import { stringify } from 'yaml';
import { EksdError } from '../errors.ts';
import { writeFileAtomic } from '../util/fs-atomic.ts';
import type { UpstreamPin } from '../catalog/model.ts';
import type { RegistryClient } from '../registry/client.ts';
import { parseTagReference } from '../registry/reference.ts';
import { MEDIA } from '../publish/media.ts';

export interface ResolvedBase { reference: string; digest: string; platforms: Record<string, string> }

export interface BaseChange { field: string; pinned?: string; current: string }

/** The pin's upstream reference; without a tag it means :latest. */
export function splitReference(reference: string): { registry: string; repository: string; tag: string } {
  const ref = parseTagReference(reference) ?? parseTagReference(`${reference}:latest`);
  if (!ref) throw new EksdError('PIN_INVALID', `cannot parse the upstream reference '${reference}'`, { hint: 'use registry/repository:tag' });
  return ref;
}

export async function resolveBase(client: RegistryClient, reference: string): Promise<ResolvedBase> {
  const { repository, tag } = splitReference(reference);
  const top = await client.getManifest(repository, tag);
  const json = top.json as { manifests?: Array<{ digest: string; platform?: { os: string; architecture: string; variant?: string } }>; config?: { digest: string } };
  const platforms: Record<string, string> = {};
  if (top.mediaType === MEDIA.ociIndex || top.mediaType === MEDIA.dockerList) {
    for (const m of json.manifests ?? []) {
      if (!m.platform || m.platform.os === 'unknown') continue;
      const key = `${m.platform.os}/${m.platform.architecture}`;
      if (key === 'linux/amd64' || key === 'linux/arm64') platforms[key] ??= m.digest;
    }
  } else if (json.config) {
    const config = JSON.parse((await client.getBlob(repository, json.config.digest)).toString('utf8')) as { os: string; architecture: string };
    platforms[`${config.os}/${config.architecture}`] = top.digest;
  }
  return { reference, digest: top.digest, platforms };
}

/** What differs between the pin and the registry; an empty list means unchanged. */
export function compareBase(pin: UpstreamPin, current: ResolvedBase): BaseChange[] {
  const changes: BaseChange[] = [];
  if (pin.digest !== current.digest) changes.push({ field: 'index', ...(pin.digest ? { pinned: pin.digest } : {}), current: current.digest });
  for (const [platform, digest] of Object.entries(current.platforms).sort()) {
    const pinned = pin.platforms[platform as keyof UpstreamPin['platforms']];
    if (pinned !== digest) changes.push({ field: platform, ...(pinned ? { pinned } : {}), current: digest });
  }
  return changes;
}

export async function writePin(file: string, resolved: ResolvedBase): Promise<void> {
  const header = [
    '# yaml-language-server: $schema=../schema/pin.schema.json',
    '# The upstream image every base is built FROM, written by `eksd watch-base --write`.',
    '',
  ].join('\n');
  const body = stringify({ upstream: { reference: resolved.reference, digest: resolved.digest,
    platforms: Object.fromEntries(Object.entries(resolved.platforms).sort()), resolvedAt: new Date().toISOString() } });
  await writeFileAtomic(file, header + body);
}
