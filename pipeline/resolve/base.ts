/**
 * The upstream base image: resolve its tag to the index digest and per-platform digests, compare with
 * the pin like with like (index with index, each platform with the same platform), and write the pin.
 * Every digest and platform read from the registry is checked for its exact shape before it is used,
 * since they go into the pin file, GITHUB_OUTPUT and the step summary.
 */
import { stringify } from 'yaml';
import { EksdError } from '../errors.ts';
import { writeFileAtomic } from '../util/fs-atomic.ts';
import type { UpstreamPin } from '../catalog/model.ts';
import type { RegistryClient } from '../registry/client.ts';
import type { Manifest } from '../registry/manifests.ts';
import { parseTagReference } from '../registry/reference.ts';
import { MEDIA } from '../image/media-types.ts';

export interface ResolvedBase { reference: string; digest: string; platforms: Record<string, string> }

export interface BaseChange { field: string; pinned?: string; current: string }

/** The pin's upstream reference; without a tag it means :latest. */
export function splitReference(reference: string): { registry: string; repository: string; tag: string } {
  const ref = parseTagReference(reference) ?? parseTagReference(`${reference}:latest`);
  if (!ref) throw new EksdError('PIN_INVALID', `cannot parse the upstream reference '${reference}'`, { hint: 'use registry/repository:tag' });
  return ref;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const PLATFORMS = new Set(['linux/amd64', 'linux/arm64']);

/** A digest as served by the registry, refused unless it is exactly sha256:<64 hex>. */
function digestFrom(value: unknown, reference: string, field: string): string {
  if (typeof value === 'string' && DIGEST.test(value)) return value;
  throw new EksdError('REGISTRY_INVALID_DIGEST', `the registry answered ${reference} with ${field} ${JSON.stringify(value).slice(0, 100)}, not a sha256 digest`, {
    where: `${reference} ${field}`, hint: 'the registry (or a proxy in front of it) serves a malformed manifest; nothing was written',
  });
}

export async function resolveBase(client: RegistryClient, reference: string): Promise<ResolvedBase> {
  const { repository, tag } = splitReference(reference);
  const top = await client.getManifest(repository, tag);
  return { reference, digest: digestFrom(top.digest, reference, 'digest'), platforms: await platformDigests(client, repository, top, reference) };
}

/** The linux/amd64 and linux/arm64 digests an index lists (or the one platform of a single manifest). */
export async function platformDigests(client: RegistryClient, repository: string, top: Manifest, reference: string): Promise<Record<string, string>> {
  const json = top.json as { manifests?: Array<{ digest: string; platform?: { os: string; architecture: string; variant?: string } }>; config?: { digest: string } };
  const platforms: Record<string, string> = {};
  if (top.mediaType === MEDIA.ociIndex || top.mediaType === MEDIA.dockerList) {
    (json.manifests ?? []).forEach((m, i) => {
      if (!m.platform || m.platform.os === 'unknown') return;
      const key = `${m.platform.os}/${m.platform.architecture}`;
      if (PLATFORMS.has(key)) platforms[key] ??= digestFrom(m.digest, reference, `manifests[${i}].digest`);
    });
  } else if (json.config) {
    const config = JSON.parse((await client.getBlob(repository, digestFrom(json.config.digest, reference, 'config.digest'))).toString('utf8')) as { os: string; architecture: string };
    const key = `${config.os}/${config.architecture}`;
    if (PLATFORMS.has(key)) platforms[key] = top.digest;
  }
  return platforms;
}

/** A platform whose digest in the pin is not the one the pinned index lists for it. */
export interface PlatformMismatch { platform: string; pinned: string; listed?: string }

/** The pin's per-platform digests that the pinned index does not list for their platform. */
export function platformMismatches(pin: UpstreamPin, listed: Record<string, string>): PlatformMismatch[] {
  return Object.entries(pin.platforms).sort().flatMap(([platform, pinned]) => (pinned === undefined || listed[platform] === pinned ? []
    : [{ platform, pinned, ...(listed[platform] ? { listed: listed[platform] } : {}) }]));
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
