/**
 * The release number of a channel's run, decided when the run opens, before anything is fetched, built,
 * pushed or written: the unfinished run's number (it is resumed), else `--number`, else the latest
 * manifest in the site + 1. A `--number` at or below a number the channel already released (a manifest
 * in the site, or the channel file's latestRelease) is refused here: its versioned tags and manifest
 * are immutable, and the channel file never moves back.
 */
import { EksdError } from '../errors.ts';
import { channelPointer, latestNumber } from '../site/site.ts';
import { releaseName } from '../release/naming.ts';
import type { Store } from '../store/store.ts';

export interface NumberInput {
  channel: string;
  /** --number */
  wanted?: number;
  /** the number of the channel's unfinished run, if any, and where its journal is */
  unfinished?: { number: number; file: string };
  site: Store;
}

export async function releaseNumber(input: NumberInput): Promise<number> {
  const { channel, wanted, unfinished, site } = input;
  if (unfinished && wanted !== undefined && wanted !== unfinished.number) {
    throw new EksdError('RUN_UNFINISHED', `release ${unfinished.number} of channel ${channel} is unfinished; it must complete before release ${wanted}`, {
      where: unfinished.file, hint: 'run eksd release without --number to finish it',
    });
  }
  if (unfinished) return unfinished.number;
  const latest = await latestNumber(site, channel);
  if (wanted === undefined) return latest + 1;
  const released = Math.max(latest, (await channelPointer(site, channel)) ?? 0);
  if (wanted <= released) throw numberUsed(channel, wanted, released);
  return wanted;
}

function numberUsed(channel: string, wanted: number, released: number): EksdError {
  return new EksdError('RELEASE_NUMBER_USED',
    `--number ${wanted} is ${wanted === released ? 'the number of' : 'below'} the latest release of channel ${channel}, ${releaseName(channel, released)}; nothing was built, pushed or written`, {
      where: '--number',
      hint: `release numbers only go up and are used once: leave out --number to release ${releaseName(channel, released + 1)}, or give a number above ${released}`,
    });
}
