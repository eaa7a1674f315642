/**
 * Retiring a channel (`active: false` in images/channels.yaml): its ReleaseChannel is published with
 * `status.active: false`, still naming its latest release, and the retirement is announced once (its
 * own ledger entry, `kubernetes-<ch>-retired`), under the channel's lease. Its manifests, images and tags
 * stay, so `eksd verify` and `eksd republish` keep working for its releases. A channel that never had a
 * release has nothing public to retire.
 */
import type { ChannelConfig } from '../config/config.ts';
import type { ChannelSpec } from '../catalog/model.ts';
import { renderRetirement } from '../announce/render.ts';
import { sendOnce } from '../announce/release.ts';
import { parseReleaseChannel } from '../release/channel.ts';
import { channelFilePath } from '../release/naming.ts';
import { writeChannel } from '../site/site.ts';
import { getText } from '../store/store.ts';
import type { Stores } from '../store/open.ts';
import { withLease } from '../store/lease.ts';
import type { AnnounceOutcome } from '../stages/announce.ts';

export interface Retirement {
  state: 'retired' | 'already-retired' | 'never-released' | 'to-retire';
  latestRelease: number;
  announcement?: AnnounceOutcome;
}

/** `warn` hears what goes wrong after the outcome is settled (the lease not released). */
export async function retireChannel(config: ChannelConfig, channel: ChannelSpec, stores: Stores, dryRun: boolean, warn: (message: string) => void): Promise<Retirement> {
  const key = channelFilePath(channel.name);
  const text = await getText(stores.site, key);
  if (text === undefined) return { state: 'never-released', latestRelease: 0 };
  const latestRelease = parseReleaseChannel(text, stores.site.where(key)).status.latestRelease ?? 0;
  if (dryRun) return { state: 'to-retire', latestRelease };
  return withLease(stores.state, channel.name, `eksd release: retire ${channel.name} (pid ${process.pid})`, config.leaseSeconds, async (lease) => {
    await writeChannel(stores.site, { channel: channel.name, latestRelease, active: false, ...(config.announce.topicArn ? { snsTopicArn: config.announce.topicArn } : {}) });
    const announcement = renderRetirement({ channel: channel.name, latestRelease, retired: channel.retired ?? '', channelUrl: `${config.site.baseUrl.replace(/\/+$/, '')}/${key}` });
    const sent = await sendOnce(config, stores, lease, announcement);
    return { state: sent.skipped ? 'already-retired' : 'retired', latestRelease, announcement: { messageId: sent.messageId, skipped: sent.skipped, via: sent.via } };
  }, warn);
}
