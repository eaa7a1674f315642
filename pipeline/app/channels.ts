/** Which channels a run releases, and how many at once. */
import { loadChannels } from '../catalog/load.ts';
import type { ChannelSpec } from '../catalog/model.ts';
import type { Config } from '../config/config.ts';
import { EksdError } from '../errors.ts';

/**
 * Channels at once, by default one: a run killed while a channel sends its announcement leaves that
 * announcement uncertain, for a person to settle (it is never sent twice); with several channels at once a
 * kill is likelier to land inside some channel's send. `--channels-at-once N` overlaps the channels' own
 * fixed steps (registry round trips, the site, verify) for speed; builds stay bounded by the shared slots.
 */
export const CHANNELS_AT_ONCE = 1;

/**
 * --channel (repeatable) or the configured channel, in catalog order; else every active channel and every
 * retired one (whose ReleaseChannel is then marked inactive, once).
 */
export function selectChannels(config: Config, channels?: string[]): ChannelSpec[] {
  const all = loadChannels(config);
  const wanted = channels?.length ? channels : config.channel ? [config.channel] : undefined;
  if (!wanted) return all;
  const unknown = wanted.filter((w) => !all.some((c) => c.name === w));
  if (unknown.length > 0) {
    throw new EksdError('USAGE', `channel ${unknown.join(', ')} is not in the catalog (it lists ${all.map((c) => c.name).join(', ')})`, {
      where: '--channel', hint: 'choose channels from images/channels.yaml (eksd catalog lists them)',
    });
  }
  return all.filter((c) => wanted.includes(c.name));
}
