/**
 * Before the release state had its own prefix and bucket, it lived in the site's bucket at
 * `<site prefix>state/`: inside the site when the site has a prefix, and at a place a state bucket or
 * prefix of its own no longer reads. A run that does not find it there would start over what it should resume, and
 * could announce again what the old ledger records: so while anything is left at the old place, runs are
 * refused with the command that moves it.
 */
import type { Config } from '../config/config.ts';
import { EksdError } from '../errors.ts';
import type { Stores } from './open.ts';

/** Folders the state had at the old place, each holding objects directly (journals are one level deeper). */
const OLD_FOLDERS = ['state/leases/', 'state/announcements/', 'state/pins/'];

export async function refuseStateInSite(config: Config, stores: Stores): Promise<void> {
  if (!config.site.bucket) return;
  const old = stores.site.where('state/');
  const now = stores.state.where('');
  if (old === now) return; // a site at the bucket's root, its state where it always was
  for (const folder of OLD_FOLDERS) {
    if ((await stores.site.list(folder)).length === 0) continue;
    throw new EksdError('STORE_STATE_IN_SITE', `release state was found at ${old}, inside the site, where earlier versions kept it; it now lives at ${now}`, {
      where: stores.site.where(folder),
      hint: `with no run going on, move it: aws s3 mv --recursive ${old} ${now} — then run again (unfinished runs resume, announced releases stay announced)`,
    });
  }
}
