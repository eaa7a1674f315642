/**
 * Pointers, once the release is public and verified: the channel file names it as the latest release,
 * checked as the site serves it back; the index pages, the feeds and releases.json are written from
 * what the site then publishes; then every image's floating tags move to it.
 */
import { EksdError } from '../errors.ts';
import { channelFilePath } from '../release/naming.ts';
import { channelPointer, writeChannel } from '../site/site.ts';
import { writeIndexPages } from '../site/pages/write.ts';
import { moveTags, tagsNow } from '../publish/tags.ts';
import type { ClientFactory } from '../registry/client.ts';
import type { Store } from '../store/store.ts';
import type { Lease } from '../store/lease.ts';
import { tagTargets, type PublishedImage } from './images/published.ts';

export interface PointersInput {
  channel: string;
  number: number;
  images: PublishedImage[];
  site: Store;
  lease: Lease;
  clients: ClientFactory;
  /** Named in the channel file, for subscribers. */
  snsTopicArn?: string;
}

export async function movePointers(input: PointersInput): Promise<{ channelFile: string }> {
  const { channel, number, site } = input;
  input.lease.assertHeld();
  await writeChannel(site, { channel, latestRelease: number, active: true, ...(input.snsTopicArn ? { snsTopicArn: input.snsTopicArn } : {}) });
  await assertChannelPoints(site, channel, number);
  await writeIndexPages(site);
  const targets = tagTargets(input.images, input.clients);
  const now = await tagsNow(targets, 'floating');
  await Promise.all(targets.map((t, i) => moveTags(t, now[i]!, 'floating')));
  return { channelFile: channelFilePath(channel) };
}

/** The channel file as the site serves it now points at this release (or a later one). */
async function assertChannelPoints(site: Store, channel: string, number: number): Promise<void> {
  const latest = await channelPointer(site, channel);
  if (latest === undefined || latest < number) {
    const where = site.where(channelFilePath(channel));
    throw new EksdError('VERIFY_FAILED', `${where} points at release ${latest ?? '(none)'}, not ${number}, after it was written; nothing was announced`, {
      where, hint: 'check the bucket for another writer of this channel, then run again',
    });
  }
}
