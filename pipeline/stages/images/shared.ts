/**
 * The build keys of one run, across channels: the first channel to have a key records it, with its
 * platform image once pushed or reused, and every channel after it reuses that image instead of building
 * the key again. Channels are released one after the other, so a later channel's decide sees the images.
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
export function sharePlatform(shared: SharedBuilds, channel: string, r: PlatformRecord): void {
  if (!shared.get(r.key)?.manifest) shared.set(r.key, { channel, manifest: r.manifest });
}

/** The image another channel of this run has for the key: undefined when none (or only this channel). */
export function sharedFor(shared: SharedBuilds | undefined, key: string, channel: string | undefined) {
  const other = shared?.get(key);
  return other && other.channel !== channel ? other : undefined;
}
