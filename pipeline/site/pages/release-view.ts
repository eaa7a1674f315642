/**
 * What a release page shows, from its manifest and the channel's previous one: every component and
 * version, every image with its index digest and per-platform digests, every archive with both
 * checksums and its link, what changed and why, the manifest and how to apply it.
 */
import { manifestPath } from '../../release/naming.ts';
import type { Asset, Release } from '../../release/types.ts';
import { changesSince, type ReleaseChangeList } from './changes.ts';
import { HOME_PAGE, STYLESHEET, channelPage, keyUnder, kubernetesMinor, linkFrom, publicUrl, releasePage, siteBaseOf } from './paths.ts';
import type { PlatformDigest, PlatformDigests } from './platforms.ts';

export interface ImageRow { component: string; name: string; description: string; uri: string; digest: string; byDigest: string; platforms: PlatformDigest[] }
export interface ArchiveRow { component: string; name: string; platform: string; description: string; sha256: string; sha512: string; href: string }

export interface ReleaseView {
  page: string;
  title: string;
  name: string;
  channel: string;
  minor: string;
  number: number;
  date: string;
  links: { home: string; channel: string; stylesheet: string; manifest: string; previous?: string };
  manifestUrl: string;
  components: Array<{ name: string; gitTag: string; gitCommit?: string }>;
  images: ImageRow[];
  archives: ArchiveRow[];
  changes: ReleaseChangeList;
  /** The run's timeline picture, when the site holds one beside the page. */
  timeline?: { src: string; alt: string };
}

export interface ReleaseViewInput { release: Release; previous?: Release; platforms: PlatformDigests; hasTimeline: boolean }

export async function releaseView(input: ReleaseViewInput): Promise<ReleaseView> {
  const { release, previous } = input;
  const { channel, number } = release.spec;
  const page = releasePage(channel, number);
  const base = siteBaseOf(release);
  const manifest = manifestPath(channel, number);
  return {
    page, title: `${release.metadata.name}: EKS Distro ${kubernetesMinor(channel)} release ${number}`, name: release.metadata.name,
    channel, minor: kubernetesMinor(channel), number, date: release.status.date,
    links: { home: linkFrom(page, HOME_PAGE), channel: linkFrom(page, channelPage(channel)), stylesheet: linkFrom(page, STYLESHEET), manifest: linkFrom(page, manifest),
      ...(previous ? { previous: linkFrom(page, releasePage(channel, previous.spec.number)) } : {}) },
    manifestUrl: publicUrl(base, manifest),
    components: release.status.components.map((c) => ({ name: c.name, gitTag: c.gitTag, ...(c.gitCommit ? { gitCommit: c.gitCommit } : {}) })),
    images: await imageRows(release, input.platforms),
    archives: archiveRows(release, page, base),
    changes: changesSince(release, previous),
    ...(input.hasTimeline ? { timeline: { src: 'timeline.svg', alt: `Timeline of the run that made ${release.metadata.name}: each stage and platform build, when it started and ended` } } : {}),
  };
}

function assetsOf(release: Release, type: Asset['type']): Array<{ component: string; asset: Asset }> {
  return release.status.components.flatMap((c) => c.assets.filter((a) => a.type === type).map((asset) => ({ component: c.name, asset })));
}

async function imageRows(release: Release, platforms: PlatformDigests): Promise<ImageRow[]> {
  return Promise.all(assetsOf(release, 'Image').map(async ({ component, asset }) => {
    const uri = asset.image?.uri ?? '';
    const digest = asset.image?.imageDigest ?? '';
    const repository = uri.replace(/:[^:/]+$/, '');
    return { component, name: asset.name, description: asset.description, uri, digest, byDigest: digest ? `${repository}@${digest}` : '',
      platforms: digest ? await platforms(uri, digest) : [] };
  }));
}

function archiveRows(release: Release, page: string, base: string | undefined): ArchiveRow[] {
  return assetsOf(release, 'Archive').map(({ component, asset }) => {
    const uri = asset.archive?.uri ?? '';
    const key = keyUnder(base, uri);
    return { component, name: asset.name, platform: [asset.os, ...(asset.arch ?? [])].filter(Boolean).join('/'), description: asset.description,
      sha256: asset.archive?.sha256 ?? '', sha512: asset.archive?.sha512 ?? '', href: key ? linkFrom(page, key) : uri };
  });
}
