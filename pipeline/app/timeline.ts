/**
 * The picture of the run beside the release it wrote: kubernetes-<ch>/releases/<N>/timeline.svg in the
 * site store, the channel's part of the run's timeline. Written once the channel's list has ended, only
 * for a release the run wrote; the release page shows it when it is there.
 */
import { releaseName, timelinePath } from '../release/naming.ts';
import { channelTimeline, type Timeline } from '../stages/timeline.ts';
import { timelineSvg } from './timeline-svg.ts';
import type { Store } from '../store/store.ts';

/** Writes the SVG; returns where it is, for the summary. */
export async function storeTimeline(site: Store, channel: string, number: number, t: Timeline): Promise<string> {
  const key = timelinePath(channel, number);
  const svg = timelineSvg(channelTimeline(t, channel), `${releaseName(channel, number)}: how the run went`);
  await site.put(key, svg);
  return site.where(key);
}
