/**
 * What the site store says is published, the only source of every page and feed: each channel with a
 * ReleaseChannel file, and its Release manifests up to the release that file points at. A manifest past
 * the pointer is not verified yet (its run stopped before the pointers stage), so no index page or feed
 * names it.
 */
import { createHash } from 'node:crypto';
import { EksdError } from '../../errors.ts';
import { parseReleaseChannel } from '../../release/channel.ts';
import { parseRelease } from '../../release/manifest.ts';
import { channelFilePath, isChannel, manifestPath } from '../../release/naming.ts';
import type { Release, ReleaseChannel } from '../../release/types.ts';
import { getText, type Store } from '../../store/store.ts';
import { Memo } from '../../util/memo.ts';

export interface PublishedChannel {
  channel: string;
  file: ReleaseChannel;
  /** Oldest first, up to the channel file's latestRelease; a number with no manifest is left out. */
  releases: Release[];
}

/** Every channel the site publishes, newest Kubernetes minor first. */
export async function readPublished(store: Store): Promise<PublishedChannel[]> {
  const names = (await store.list('releasechannels/')).filter((n) => n.endsWith('.yaml')).map((n) => n.slice(0, -5)).filter(isChannel);
  const channels = await Promise.all(names.map((channel) => readChannel(store, channel)));
  return channels.sort((a, b) => compareChannels(b.channel, a.channel));
}

async function readChannel(store: Store, channel: string): Promise<PublishedChannel> {
  const key = channelFilePath(channel);
  const text = await getText(store, key);
  if (text === undefined) throw new EksdError('SITE_READ', `${store.where(key)} was listed but cannot be read`, { where: store.where(key), hint: 'run eksd site again' });
  const file = parseReleaseChannel(text, store.where(key));
  const numbers = Array.from({ length: file.status.latestRelease ?? 0 }, (_, i) => i + 1);
  const releases = await Promise.all(numbers.map((n) => readManifest(store, channel, n)));
  return { channel, file, releases: releases.filter((r): r is Release => r !== undefined) };
}

export async function readManifest(store: Store, channel: string, number: number): Promise<Release | undefined> {
  const key = manifestPath(channel, number);
  const text = await getText(store, key);
  return text === undefined ? undefined
    : parsed.get(createHash('sha256').update(text).digest('hex'), async () => parseRelease(text, store.where(key), { strict: false }));
}

/**
 * Manifests parsed by this process, by the digest of their text: channels released at once each write the
 * index pages from every published manifest, and parsing is most of that work. Shared: never changed.
 */
const parsed = new Memo<Release>();

/** Orders channels by Kubernetes minor: 1-9 before 1-10. */
export function compareChannels(a: string, b: string): number {
  const [am, an] = a.split('-').map(Number) as [number, number];
  const [bm, bn] = b.split('-').map(Number) as [number, number];
  return am - bm || an - bn;
}
