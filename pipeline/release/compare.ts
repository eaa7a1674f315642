/**
 * What differs between a release and the channel's latest one: component versions, image digests and
 * archive checksums (not names, numbers, dates or tag-form URIs, which change with every number). An
 * empty list means there is nothing to release.
 */
import type { Release } from './types.ts';

export interface ContentChange { what: string; was: string | null; now: string | null }

export function contentChanges(next: Release, latest: Release): ContentChange[] {
  const a = contentOf(latest);
  const b = contentOf(next);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.filter((k) => a.get(k) !== b.get(k)).map((k) => ({ what: k, was: a.get(k) ?? null, now: b.get(k) ?? null }));
}

export function describeChange(c: ContentChange): string {
  if (c.was === null) return `${c.what} added (${c.now})`;
  if (c.now === null) return `${c.what} removed (was ${c.was})`;
  return `${c.what}: ${c.was} -> ${c.now}`;
}

function contentOf(r: Release): Map<string, string> {
  const m = new Map<string, string>();
  for (const c of r.status.components ?? []) {
    m.set(`${c.name} version`, c.gitTag + (c.gitCommit ? ` (${c.gitCommit.slice(0, 12)})` : ''));
    for (const a of c.assets ?? []) {
      if (a.type === 'Image') m.set(`${c.name}/${a.name} digest`, a.image?.imageDigest ?? '');
      if (a.type === 'Archive') m.set(`${c.name}/${a.name} sha256`, a.archive?.sha256 ?? '');
    }
  }
  return m;
}
