/**
 * What changed in a release since the channel's previous one, and why, as the two manifests tell it: a
 * component's version, an image's index digest (a new version, else a rebuild on the same version:
 * the base image or the recipe changed), an archive's checksum. The channel page shows it in one line.
 */
import { contentChanges, describeChange } from '../../release/compare.ts';
import { imageChanges } from '../../release/changes.ts';
import type { Release } from '../../release/types.ts';

export interface ReleaseChangeList {
  /** The release this one is compared with; absent for a channel's first release. */
  previous?: string;
  versions: string[];
  images: string[];
  archives: string[];
}

export function changesSince(release: Release, previous: Release | undefined): ReleaseChangeList {
  if (!previous) return { versions: [], images: [], archives: [] };
  const changes = contentChanges(release, previous);
  const { images, removed } = imageChanges(release, previous);
  return {
    previous: previous.metadata.name,
    versions: changes.filter((c) => c.what.endsWith(' version')).map(describeChange),
    images: [...images.filter((i) => i.changed !== null).map((i) => `${i.component}/${i.image}: ${i.changed}`), ...removed.map((k) => `${k} removed`)],
    archives: changes.filter((c) => c.what.endsWith(' sha256')).map(describeChange),
  };
}

/** One line for the channel page: versions first, then how many images and archives changed. */
export function oneLine(list: ReleaseChangeList): string {
  if (!list.previous) return 'First release of the channel.';
  const parts: string[] = [];
  if (list.versions.length > 0) parts.push(shortList(list.versions.map((v) => v.replace(' version: ', ' '))));
  if (list.images.length > 0) parts.push(`${count(list.images.length, 'image')} changed`);
  if (list.archives.length > 0) parts.push(`${count(list.archives.length, 'archive')} changed`);
  if (list.versions.length === 0 && list.images.length > 0) parts.push('same versions, rebuilt (base image or recipe updated)');
  return parts.length > 0 ? `${parts.join('; ')}.` : 'Nothing changed; released on purpose.';
}

function shortList(items: string[], shown = 3): string {
  return items.length <= shown ? items.join(', ') : `${items.slice(0, shown).join(', ')} and ${items.length - shown} more`;
}

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
