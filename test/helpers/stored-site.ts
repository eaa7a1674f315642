/**
 * A site store holding generated Release manifests and ReleaseChannel files, as release runs leave
 * them (no registry, no engine): for the site's fast tests and its benchmark. Per-platform digests come
 * from `fakePlatforms`, which answers for every index digest as the registry would.
 */
import { createHash } from 'node:crypto';
import { writeChannel, writeManifest } from '../../pipeline/site/site.ts';
import { buildRelease } from '../../pipeline/release/manifest.ts';
import type { ComponentResult } from '../../pipeline/release/types.ts';
import type { Store } from '../../pipeline/store/store.ts';
import type { PlatformDigests } from '../../pipeline/site/pages/platforms.ts';

export const SITE_BASE = 'https://distro.example.com';
const hex = (text: string, bytes = 32): string => createHash(bytes === 32 ? 'sha256' : 'sha512').update(text).digest('hex');

export interface StoredSiteOptions {
  channels: string[];
  releases: number;
  images?: number;
  archives?: number;
  /** channel -> retirement day */
  retired?: Record<string, string>;
  /** Text put into a component's description and version, to see it escaped. */
  crafted?: string;
  snsTopicArn?: string;
}

/** The components of release `number`: kubernetes changes version every third release, the images every release. */
function components(channel: string, number: number, o: StoredSiteOptions): ComponentResult[] {
  const version = `v${channel.replace('-', '.')}.${Math.ceil(number / 3)}`;
  const images = Array.from({ length: o.images ?? 18 }, (_, i) => ({
    name: `image-${i}`, repository: `eks-distro/kubernetes/image-${i}`, uri: `public.ecr.aws/eks-distro/kubernetes/image-${i}:${version}-eks-${channel}-${number}`,
    digest: `sha256:${hex(`${channel}/${number}/${i}`)}`, description: i === 0 && o.crafted ? o.crafted : `image ${i}`, platforms: ['linux/amd64', 'linux/arm64'],
  }));
  const archives = Array.from({ length: o.archives ?? 12 }, (_, i) => ({
    name: `bin/linux/${i % 2 ? 'arm64' : 'amd64'}/tool-${i}`, project: 'kubernetes', gitTag: version, path: '/dev/null', os: 'linux' as const,
    arch: [i % 2 ? 'arm64' : 'amd64'], description: `tool ${i}`, sha256: hex(`a${channel}${i}${version}`), sha512: hex(`a${channel}${i}${version}`, 64),
  }));
  const crafted = o.crafted ? [{ name: 'crafted', gitTag: o.crafted, images: [], archives: archives.slice(0, 1).map((a) => ({ ...a, name: 'crafted.tar.gz', description: o.crafted! })) }] : [];
  return [{ name: 'kubernetes', gitTag: version, images, archives }, ...crafted];
}

/** Writes the manifests and channel files; the dates run one day apart from 2026-01-01. */
export async function storeReleases(store: Store, o: StoredSiteOptions): Promise<void> {
  for (const channel of o.channels) {
    for (let number = 1; number <= o.releases; number++) {
      const date = new Date(Date.UTC(2026, 0, number, 12)).toISOString().replace('.000Z', 'Z');
      await writeManifest(store, buildRelease({ channel, number, date, siteBaseUrl: SITE_BASE, components: components(channel, number, o) }));
    }
    const retired = o.retired?.[channel];
    await writeChannel(store, { channel, latestRelease: o.releases, active: retired === undefined, ...(retired ? { retired } : {}),
      ...(o.snsTopicArn ? { snsTopicArn: o.snsTopicArn } : {}) });
  }
}

/** Two platforms per index, their digests made from the index digest. */
export const fakePlatforms: PlatformDigests = async (_uri, digest) => ['linux/amd64', 'linux/arm64'].map((platform) => ({ platform, digest: `sha256:${hex(`${digest}/${platform}`)}` }));
