/**
 * Is there anything to release? The release this run would write, compared with the channel's latest:
 * a component version, an image digest or an archive checksum. Nothing differs: the run stops before
 * any tag moves, and the release number is not used. The first release of a channel, a run resuming a
 * release that already moved its tags, and a release forced on purpose always go on.
 */
import { contentChanges, describeChange } from '../release/compare.ts';
import { previousRelease } from '../site/site.ts';
import type { Release } from '../release/types.ts';
import type { Store } from '../store/store.ts';

export interface Comparison {
  /** false: nothing to release */
  changed: boolean;
  /** the release compared with (null: the channel's first) */
  latest: string | null;
  /** what differs, in words */
  changes: string[];
}

export interface CompareInput {
  next: Release;
  site: Store;
  /** release even when nothing changed (`--release-unchanged`, `--force`), or finish a release already under way */
  always: boolean;
}

export async function compareWithLatest(input: CompareInput): Promise<Comparison> {
  const { channel, number } = input.next.spec;
  const latest = await previousRelease(input.site, channel, number);
  if (!latest) return { changed: true, latest: null, changes: [`first release of channel ${channel}`] };
  const changes = contentChanges(input.next, latest).map(describeChange);
  return { changed: changes.length > 0 || input.always, latest: latest.metadata.name, changes };
}

export function comparisonDetail(c: Comparison, channel: string): string {
  if (!c.changed) return `channel ${channel}: nothing changed since ${c.latest}`;
  if (c.changes.length === 0) return `nothing changed since ${c.latest}; released on purpose`;
  return `${c.changes.length} change(s)${c.latest ? ` since ${c.latest}` : ''}: ${c.changes.slice(0, 3).join('; ')}${c.changes.length > 3 ? '; ...' : ''}`;
}
