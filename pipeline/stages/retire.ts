/**
 * Retiring a channel (`active: false` in images/channels.yaml): its ReleaseChannel is published with
 * `status.active: false`, still naming its latest release, and the retirement is announced once (its
 * own ledger entry, `kubernetes-<ch>-retired`). Its manifests, images and tags stay, so `eksd verify`
 * and `eksd republish` keep working for its releases. A channel that never had a release has nothing
 * public to retire.
 */
import type { ChannelSpec } from '../catalog/model.ts';
import { renderRetirement } from '../announce/render.ts';
import { sendOnce, type AnnounceSettings } from '../announce/release.ts';
import { parseReleaseChannel } from '../release/channel.ts';
import { channelFilePath } from '../release/naming.ts';
import { writeChannel } from '../site/site.ts';
import { writeIndexPages } from '../site/pages/write.ts';
import { getText } from '../store/store.ts';
import type { Store } from '../store/store.ts';
import type { Stores } from '../store/open.ts';
import type { Lease } from '../store/lease.ts';
import type { AnnounceOutcome } from './announce.ts';

/** What the channel file says: whether the channel was ever released, and its latest release. */
export interface ChannelLatest { released: boolean; latestRelease: number }

export async function channelLatest(site: Store, channel: string): Promise<ChannelLatest> {
  const key = channelFilePath(channel);
  const text = await getText(site, key);
  if (text === undefined) return { released: false, latestRelease: 0 };
  return { released: true, latestRelease: parseReleaseChannel(text, site.where(key)).status.latestRelease ?? 0 };
}

export interface MarkRetiredInput { site: Store; channel: string; latestRelease: number; lease: Lease; snsTopicArn?: string; retired?: string }

/** The channel file, rewritten inactive (still naming its latest release and the day it was retired), then the index pages and feeds. */
export async function markRetired(input: MarkRetiredInput): Promise<{ channelFile: string }> {
  input.lease.assertHeld();
  await writeChannel(input.site, { channel: input.channel, latestRelease: input.latestRelease, active: false,
    ...(input.snsTopicArn ? { snsTopicArn: input.snsTopicArn } : {}), ...(input.retired ? { retired: input.retired } : {}) });
  await writeIndexPages(input.site);
  return { channelFile: channelFilePath(input.channel) };
}

export interface RetirementNotice { settings: AnnounceSettings; stores: Stores; lease: Lease; channel: ChannelSpec; latestRelease: number }

/** The retirement's announcement, sent once under its own ledger entry. */
export async function announceRetirement(input: RetirementNotice): Promise<AnnounceOutcome> {
  const { channel, settings } = input;
  const channelUrl = `${settings.site.baseUrl.replace(/\/+$/, '')}/${channelFilePath(channel.name)}`;
  const announcement = renderRetirement({ channel: channel.name, latestRelease: input.latestRelease, retired: channel.retired ?? '', channelUrl });
  const sent = await sendOnce(settings, input.stores, input.lease, announcement);
  return { messageId: sent.messageId, skipped: sent.skipped, via: sent.via };
}
