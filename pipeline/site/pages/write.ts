/**
 * Writing the site's pages and feeds into the site store, at the moments they may be written:
 *   - a release's page, with the release's documents (the release stage), once;
 *   - the index pages, the feeds, releases.json and the stylesheet, after the channel file points at
 *     a verified release (the pointers stage) or a channel was retired, from what is published then;
 *   - everything again from the store (`eksd site`, after a template change).
 * An object that already holds the same bytes is left alone, so writing again changes nothing.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { previousRelease } from '../site.ts';
import type { Release } from '../../release/types.ts';
import type { Store } from '../../store/store.ts';
import { limiter } from '../../util/limit.ts';
import { render } from './engine.ts';
import { allFeed, channelFeedXml } from './feeds.ts';
import { channelView, homeView } from './index-views.ts';
import { ALL_FEED, HOME_PAGE, RELEASES_JSON, STYLESHEET, channelFeed, channelPage, releasePage, timelineKey } from './paths.ts';
import type { PlatformDigests } from './platforms.ts';
import { readManifest, readPublished, type PublishedChannel } from './published.ts';
import { releasesJson } from './releases-json.ts';
import { releaseView } from './release-view.ts';

export interface WrittenPages { written: string[]; unchanged: string[] }

/** Objects written at once: the store's writes wait on the disk or the network, not on this process. */
const WRITERS = 8;

const STYLESHEET_TEXT = readFileSync(new URL('./site.css', import.meta.url), 'utf8');

/**
 * One writer of the index pages per site store in this process: channels released at once each rewrite
 * them after their pointers move, one after the other, each from what is published then, so none writes
 * over another's newest release. (Two processes on one site can still cross; the next write mends it.)
 */
const writing = new WeakMap<Store, Promise<unknown>>();

/** The home page, every channel page, the feeds, releases.json and the stylesheet, from what is published now. */
export function writeIndexPages(site: Store, published?: PublishedChannel[]): Promise<WrittenPages> {
  const next = (writing.get(site) ?? Promise.resolve()).catch(() => undefined).then(() => writeIndexPagesNow(site, published));
  writing.set(site, next);
  return next;
}

async function writeIndexPagesNow(site: Store, published?: PublishedChannel[]): Promise<WrittenPages> {
  const channels = published ?? await readPublished(site);
  const objects: Array<[string, string]> = [
    [STYLESHEET, STYLESHEET_TEXT],
    [HOME_PAGE, render('home', homeView(channels))],
    [ALL_FEED, allFeed(channels)],
    [RELEASES_JSON, releasesJson(channels)],
    ...channels.flatMap((c): Array<[string, string]> => [[channelPage(c.channel), render('channel', channelView(c))], [channelFeed(c.channel), channelFeedXml(c, channels)]]),
  ];
  return putAll(site, objects);
}

/** The page of one release, from its manifest and the channel's previous one (read from the store when not given). */
export async function writeReleasePage(site: Store, release: Release, platforms: PlatformDigests, previous?: Release | null): Promise<WrittenPages> {
  const { channel, number } = release.spec;
  const before = previous === undefined ? await previousRelease(site, channel, number) : previous ?? undefined;
  const timeline = timelineKey(channel, number);
  const hasTimeline = (await site.list(`${posix.dirname(timeline)}/`)).includes(posix.basename(timeline));
  const view = await releaseView({ release, platforms, hasTimeline, ...(before ? { previous: before } : {}) });
  return putAll(site, [[releasePage(channel, number), render('release', view)]]);
}

/** Every page and feed again, from the store: the release page of every published release, then the index pages. */
export async function regenerateSite(site: Store, platforms: PlatformDigests): Promise<WrittenPages> {
  const channels = await readPublished(site);
  const all: WrittenPages = { written: [], unchanged: [] };
  const releases = channels.flatMap((c) => c.releases.map((release, i) => ({ release, previous: previousIn(c.releases, i) })));
  const slot = limiter(WRITERS);
  for (const pages of await Promise.all(releases.map((r) => slot(() => writeReleasePage(site, r.release, platforms, r.previous))))) merge(all, pages);
  merge(all, await writeIndexPages(site, channels));
  return all;
}

/** The release page of a stored release (for a picture or document added to it later). */
export async function rewriteReleasePage(site: Store, channel: string, number: number, platforms: PlatformDigests): Promise<WrittenPages> {
  const release = await readManifest(site, channel, number);
  return release ? writeReleasePage(site, release, platforms) : { written: [], unchanged: [] };
}

async function putAll(site: Store, objects: Array<[string, string]>): Promise<WrittenPages> {
  const slot = limiter(WRITERS);
  const written = await Promise.all(objects.map(([key, text]) => slot(() => putIfChanged(site, key, text))));
  return { written: objects.filter((_, i) => written[i]).map(([key]) => key), unchanged: objects.filter((_, i) => !written[i]).map(([key]) => key) };
}

async function putIfChanged(site: Store, key: string, text: string): Promise<boolean> {
  const existing = await site.get(key);
  if (existing?.bytes.equals(Buffer.from(text))) return false;
  await site.put(key, text);
  return true;
}

/** The release before the i-th when it is the number right before it; undefined to read it from the store. */
function previousIn(releases: Release[], i: number): Release | null | undefined {
  const number = releases[i]!.spec.number;
  if (number === 1) return null;
  const before = releases[i - 1];
  return before?.spec.number === number - 1 ? before : undefined;
}

function merge(into: WrittenPages, more: WrittenPages): void {
  into.written.push(...more.written);
  into.unchanged.push(...more.unchanged);
}
