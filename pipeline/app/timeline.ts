/**
 * The picture of the run beside the release it wrote: kubernetes-<ch>/releases/<N>/timeline.svg in the
 * site store, the channel's part of the run's timeline. Written once the channel's list has ended, only
 * for a release the run wrote; the release page is written again then, to show it.
 */
import { releaseName, timelinePath } from '../release/naming.ts';
import { channelTimeline, type Timeline } from '../stages/timeline.ts';
import { timelineSvg } from './timeline-svg.ts';
import type { Emit } from '../stages/events.ts';
import type { Store } from '../store/store.ts';
import type { PlatformDigests } from '../site/pages/platforms.ts';
import { rewriteReleasePage } from '../site/pages/write.ts';

/**
 * Writes the SVG; returns where it is, for the summary. The picture is not part of the release: a store
 * failure here is a warning, not a failed release.
 */
export async function storeTimeline(site: Store, channel: string, number: number, t: Timeline, platforms: PlatformDigests, emit: Emit): Promise<string | undefined> {
  const key = timelinePath(channel, number);
  try {
    await site.put(key, timelineSvg(channelTimeline(t, channel), `${releaseName(channel, number)}: how the run went`));
    await rewriteReleasePage(site, channel, number, platforms);
    return site.where(key);
  } catch (e) {
    emit({ type: 'info', message: `warning: the run's timeline was not written to ${site.where(key)}: ${(e as Error).message.split('\n')[0]}` });
    return undefined;
  }
}
