/**
 * The Atom feeds: one for every channel together and one per channel, an entry per release and per
 * retirement. Ids are UUID URNs made from the release's (or retirement's) name, so they stay the same
 * however often the feeds are written; `updated` is the release's date or the retirement's day, so
 * the same store gives the same bytes. Links are absolute when the site's address is known from the
 * manifests, else relative to the feed.
 */
import { createHash } from 'node:crypto';
import { retiredOn } from '../../release/channel.ts';
import { channelDir } from '../../release/naming.ts';
import { render } from './engine.ts';
import { ALL_FEED, HOME_PAGE, channelFeed, channelPage, kubernetesMinor, linkFrom, releasePage, siteBaseOf } from './paths.ts';
import { releaseLines, type ReleaseLine } from './index-views.ts';
import type { PublishedChannel } from './published.ts';

export interface FeedEntry { id: string; title: string; updated: string; link: string; summary: string }

/** Before any release: a fixed date, so an empty feed is still the same bytes each time. */
const NO_DATE = '1970-01-01T00:00:00Z';

export function allFeed(channels: PublishedChannel[]): string {
  const base = siteBaseOfAll(channels);
  return feed({ key: ALL_FEED, page: HOME_PAGE, base, name: 'eksd-feed:all', title: 'EKS Distro releases',
    subtitle: 'Every release and retirement of every EKS Distro channel', entries: channels.flatMap((c) => entriesOf(c, ALL_FEED, base)) });
}

export function channelFeedXml(c: PublishedChannel, channels: PublishedChannel[]): string {
  const base = siteBaseOfAll(channels);
  const key = channelFeed(c.channel);
  return feed({ key, page: channelPage(c.channel), base, name: `eksd-feed:${channelDir(c.channel)}`, title: `EKS Distro ${kubernetesMinor(c.channel)} releases`,
    subtitle: `Every release of the EKS Distro channel for Kubernetes ${kubernetesMinor(c.channel)}, and its retirement`, entries: entriesOf(c, key, base) });
}

interface FeedInput { key: string; page: string; base: string | undefined; name: string; title: string; subtitle: string; entries: FeedEntry[] }

function feed(f: FeedInput): string {
  const entries = [...f.entries].sort((a, b) => b.updated.localeCompare(a.updated) || a.id.localeCompare(b.id));
  return render('feed', { id: stableId(f.name), title: f.title, subtitle: f.subtitle, updated: entries[0]?.updated ?? NO_DATE,
    self: href(f.base, f.key, f.key), alternate: href(f.base, f.key, f.page), entries });
}

function entriesOf(c: PublishedChannel, feedKey: string, base: string | undefined): FeedEntry[] {
  const releases = releaseLines(c, feedKey).map((r) => releaseEntry(c.channel, r, feedKey, base));
  const retired = retiredOn(c.file);
  if (retired === undefined) return releases;
  const name = `${channelDir(c.channel)}-retired`;
  return [...releases, { id: stableId(name), title: `EKS Distro ${kubernetesMinor(c.channel)} retired`, updated: `${retired}T00:00:00Z`,
    link: href(base, feedKey, channelPage(c.channel)), summary: `The channel for Kubernetes ${kubernetesMinor(c.channel)} gets no more releases as of ${retired}; its last release is ${c.file.status.latestRelease ?? 'none'}.` }];
}

function releaseEntry(channel: string, r: ReleaseLine, feedKey: string, base: string | undefined): FeedEntry {
  return { id: stableId(r.name), title: `${r.name} (Kubernetes ${kubernetesMinor(channel)})`, updated: r.date, link: href(base, feedKey, releasePage(channel, r.number)), summary: r.summary };
}

/** A `urn:uuid:` made from a name (UUID version 5 layout over SHA-256): the same name, the same id. */
export function stableId(name: string): string {
  const h = createHash('sha256').update(`eksd-site:${name}`).digest('hex').slice(0, 32).split('');
  h[12] = '5';
  h[16] = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  const x = h.join('');
  return `urn:uuid:${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const href = (base: string | undefined, from: string, key: string): string => (base === undefined ? linkFrom(from, key) : `${base}/${key}`);

/** The site's address, from the newest manifest that tells it. */
export function siteBaseOfAll(channels: PublishedChannel[]): string | undefined {
  for (const c of channels) {
    for (const r of [...c.releases].reverse()) {
      const base = siteBaseOf(r);
      if (base) return base;
    }
  }
  return undefined;
}
