/**
 * `releases.json`, the site for programs: every channel (status, retirement day, SNS topic, latest
 * release) and every release (number, date, manifest, page, component versions, what changed), as the
 * stored manifests and channel files say. Its shape is schema/releases.schema.json.
 */
import { retiredOn } from '../../release/channel.ts';
import { manifestPath } from '../../release/naming.ts';
import { siteBaseOfAll } from './feeds.ts';
import { releaseLines } from './index-views.ts';
import { RELEASES_JSON, kubernetesMinor, publicUrl, releasePage } from './paths.ts';
import type { PublishedChannel } from './published.ts';

export const RELEASES_JSON_VERSION = 1;

export function releasesJson(channels: PublishedChannel[]): string {
  const base = siteBaseOfAll(channels);
  const doc = {
    version: RELEASES_JSON_VERSION,
    ...(base ? { site: base } : {}),
    channels: channels.map((c) => channelEntry(c, base)),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function channelEntry(c: PublishedChannel, base: string | undefined) {
  const retired = retiredOn(c.file);
  const lines = releaseLines(c, RELEASES_JSON);
  return {
    channel: c.channel,
    kubernetes: kubernetesMinor(c.channel),
    active: c.file.status.active,
    ...(retired ? { retired } : {}),
    ...(c.file.spec.snsTopicARN ? { snsTopicArn: c.file.spec.snsTopicARN } : {}),
    ...(c.file.status.latestRelease ? { latestRelease: c.file.status.latestRelease } : {}),
    releases: c.releases.map((r, i) => ({
      name: r.metadata.name,
      number: r.spec.number,
      date: r.status.date,
      manifest: publicUrl(base, manifestPath(c.channel, r.spec.number)),
      page: publicUrl(base, releasePage(c.channel, r.spec.number)),
      changes: lines[i]!.summary,
      components: r.status.components.map((k) => ({ name: k.name, version: k.gitTag })),
    })).reverse(),
  };
}
