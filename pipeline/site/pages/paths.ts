/**
 * Where the site's pages and feeds live, and how one page links to another: every link inside the site
 * is relative, so the pages read the same from the public site, a directory (`file://`) or `eksd site serve`.
 *   index.html, feed.xml, releases.json, site.css
 *   kubernetes-<ch>/index.html, kubernetes-<ch>/feed.xml
 *   kubernetes-<ch>/releases/<N>/index.html (and timeline.svg when a run drew one)
 */
import { posix } from 'node:path';
import { channelDir } from '../../release/naming.ts';
import type { Release } from '../../release/types.ts';

export const HOME_PAGE = 'index.html';
export const ALL_FEED = 'feed.xml';
export const RELEASES_JSON = 'releases.json';
export const STYLESHEET = 'site.css';

export const channelPage = (channel: string): string => `${channelDir(channel)}/index.html`;
export const channelFeed = (channel: string): string => `${channelDir(channel)}/feed.xml`;
export const releaseDir = (channel: string, number: number): string => `${channelDir(channel)}/releases/${number}`;
export const releasePage = (channel: string, number: number): string => `${releaseDir(channel, number)}/index.html`;
export const timelineKey = (channel: string, number: number): string => `${releaseDir(channel, number)}/timeline.svg`;

/** The link from the page at key `from` to the site object at key `to`. */
export function linkFrom(from: string, to: string): string {
  return posix.relative(posix.dirname(from), to) || posix.basename(to);
}

/** `1-33` as Kubernetes writes it: `1.33`. */
export function kubernetesMinor(channel: string): string {
  return channel.replace('-', '.');
}

/**
 * The site's public address as the release's own archive URIs give it (they are
 * `<site>/kubernetes-<ch>/releases/<N>/artifacts/...`); undefined for a release without archives.
 */
export function siteBaseOf(release: Release): string | undefined {
  const marker = `/${releaseDir(release.spec.channel, release.spec.number)}/artifacts/`;
  for (const c of release.status.components) {
    for (const a of c.assets) {
      const at = a.archive?.uri.indexOf(marker) ?? -1;
      if (at > 0) return a.archive!.uri.slice(0, at);
    }
  }
  return undefined;
}

/** The site key an absolute URI under `base` names; undefined when it is elsewhere. */
export function keyUnder(base: string | undefined, uri: string): string | undefined {
  return base !== undefined && uri.startsWith(`${base}/`) ? uri.slice(base.length + 1) : undefined;
}

/** The public URL of a site key, or the key itself when the site's address is unknown. */
export function publicUrl(base: string | undefined, key: string): string {
  return base === undefined ? key : `${base}/${key}`;
}
