/**
 * The build keys of one run, across channels: the first channel to have a key records it, with its
 * platform image once pushed or reused, and every channel after it reuses that image instead of building
 * the key again. Channels run at once: a channel about to build a key another channel is building waits
 * for that build and decides again (it then finds the image); so each key is built once per run.
 */
import type { ImageDecision, PlatformRecord, SharedBuilds } from './types.ts';

/**
 * What a channel decided, before it builds: reused images at once, keys it will build without an image
 * (a dry run shows them to later channels as shared; a real run fills in the image when it is pushed).
 */
export function shareDecisions(shared: SharedBuilds, channel: string, decisions: ImageDecision[]): void {
  for (const d of decisions.flatMap((i) => Object.values(i.platforms))) {
    if (d?.key && !shared.has(d.key)) shared.set(d.key, { channel, ...(d.action === 'reuse' ? { manifest: d.manifest } : {}) });
  }
}

/** A platform image this channel pushed or reused, for the channels after it. */
export function sharePlatform(shared: SharedBuilds, channel: string, r: PlatformRecord, place: string): void {
  const entry = shared.get(r.key);
  // A build made now replaces an image shared before (one a channel found no longer served).
  if (!entry?.manifest || r.built) shared.set(r.key, { ...entry, channel: entry?.manifest && !r.built ? entry.channel : channel, manifest: r.manifest, servedIn: place });
  else if (entry.manifest.digest === r.manifest.digest) shared.set(r.key, { ...entry, servedIn: place });
}

/** Whether a channel of this run pushed this manifest for the key into `place` (registry/repository), or found it served there. */
export function servedInRun(shared: SharedBuilds | undefined, key: string, digest: string, place: string): boolean {
  const entry = shared?.get(key);
  return entry?.servedIn === place && entry.manifest?.digest === digest;
}

/** The image another channel of this run has for the key: undefined when none (or only this channel). */
export function sharedFor(shared: SharedBuilds | undefined, key: string, channel: string | undefined) {
  const other = shared?.get(key);
  return other && other.channel !== channel ? other : undefined;
}

/** Another channel building the key now: its end (the image is then shared, or the build failed). */
export function buildingElsewhere(shared: SharedBuilds | undefined, key: string, channel: string | undefined): Promise<void> | undefined {
  const building = shared?.get(key)?.building;
  return building && building.channel !== channel ? building.ended : undefined;
}

/** This channel builds the key: the others wait until `end` is called (after the push, or the failure). */
export function claimBuild(shared: SharedBuilds | undefined, key: string, channel: string): () => void {
  if (!shared) return () => {};
  let end!: () => void;
  const ended = new Promise<void>((resolve) => { end = resolve; });
  const entry = shared.get(key) ?? { channel };
  shared.set(key, { ...entry, building: { channel, ended } });
  return () => {
    const now = shared.get(key);
    if (now?.building?.ended === ended) {
      const { building: _, ...rest } = now;
      shared.set(key, rest);
    }
    end();
  };
}
