/**
 * What the home page and each channel page show, from the published channels: every channel's
 * Kubernetes minor, status (active, or retired and since when), latest release and its date; every
 * release of a channel, newest first, with a line on what changed; the SNS topics and the feeds.
 */
import { retiredOn } from '../../release/channel.ts';
import type { Release } from '../../release/types.ts';
import { changesSince, oneLine } from './changes.ts';
import { ALL_FEED, HOME_PAGE, RELEASES_JSON, STYLESHEET, channelFeed, channelPage, kubernetesMinor, linkFrom, releasePage } from './paths.ts';
import type { PublishedChannel } from './published.ts';

export interface ReleaseLine { name: string; number: number; date: string; href: string; summary: string }

export interface ChannelLine {
  channel: string;
  minor: string;
  active: boolean;
  /** The day it was retired, when the channel file says. */
  retired?: string;
  href: string;
  feed: string;
  latest?: ReleaseLine;
}

export interface HomeView {
  page: string;
  title: string;
  links: { stylesheet: string; feed: string; releasesJson: string };
  channels: ChannelLine[];
  snsTopics: string[];
}

export interface ChannelView {
  page: string;
  title: string;
  channel: ChannelLine;
  links: { home: string; stylesheet: string; feed: string };
  snsTopic?: string;
  releases: ReleaseLine[];
}

export function homeView(channels: PublishedChannel[]): HomeView {
  const topics = channels.map((c) => c.file.spec.snsTopicARN).filter((t): t is string => t !== undefined);
  return {
    page: HOME_PAGE, title: 'EKS Distro releases',
    links: { stylesheet: STYLESHEET, feed: ALL_FEED, releasesJson: RELEASES_JSON },
    channels: channels.map((c) => channelLine(c, HOME_PAGE)),
    snsTopics: [...new Set(topics)].sort(),
  };
}

export function channelView(c: PublishedChannel): ChannelView {
  const page = channelPage(c.channel);
  return {
    page, title: `EKS Distro ${kubernetesMinor(c.channel)} releases`, channel: channelLine(c, page),
    links: { home: linkFrom(page, HOME_PAGE), stylesheet: linkFrom(page, STYLESHEET), feed: linkFrom(page, channelFeed(c.channel)) },
    ...(c.file.spec.snsTopicARN ? { snsTopic: c.file.spec.snsTopicARN } : {}),
    releases: releaseLines(c, page).reverse(),
  };
}

/** Every release of the channel, oldest first, as linked from the page at `from`. */
export function releaseLines(c: PublishedChannel, from: string): ReleaseLine[] {
  return c.releases.map((r, i) => releaseLine(r, previousOf(c.releases, i), from));
}

function channelLine(c: PublishedChannel, from: string): ChannelLine {
  const last = c.releases.at(-1);
  const retired = retiredOn(c.file);
  return {
    channel: c.channel, minor: kubernetesMinor(c.channel), active: c.file.status.active, ...(retired ? { retired } : {}),
    href: linkFrom(from, channelPage(c.channel)), feed: linkFrom(from, channelFeed(c.channel)),
    ...(last ? { latest: releaseLine(last, previousOf(c.releases, c.releases.length - 1), from) } : {}),
  };
}

function releaseLine(r: Release, previous: Release | undefined, from: string): ReleaseLine {
  return { name: r.metadata.name, number: r.spec.number, date: r.status.date, href: linkFrom(from, releasePage(r.spec.channel, r.spec.number)),
    summary: oneLine(changesSince(r, previous)) };
}

const previousOf = (releases: Release[], i: number): Release | undefined => releases[i - 1];
