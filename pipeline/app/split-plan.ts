/**
 * The plan id a split job and its merge share, computed by each from its own checkout and the site: the
 * release number each selected channel gets (its unfinished run's, else the latest in the site + 1, as
 * a release opens it), then the digest of the catalog, pin, numbers and flags (plan/plan-id.ts).
 */
import type { ChannelSpec } from '../catalog/model.ts';
import { loadPin } from '../catalog/load.ts';
import type { Config } from '../config/config.ts';
import { planIdOf } from '../plan/plan-id.ts';
import type { Stores } from '../store/open.ts';
import { Journal } from './journal.ts';
import { releaseNumber } from './number.ts';

export interface SplitPlan { planId: string; numbers: Record<string, number> }

export async function splitPlan(config: Config, stores: Stores, channels: ChannelSpec[], force: boolean): Promise<SplitPlan> {
  const numbers: Record<string, number> = {};
  for (const { name } of channels) {
    const unfinished = await Journal.unfinished(stores.state, name);
    numbers[name] = await releaseNumber({ channel: name, site: stores.site, ...(unfinished ? { unfinished: { number: unfinished.data.number, file: unfinished.file } } : {}) });
  }
  const planId = planIdOf({ root: config.root, pin: loadPin(config.basePin), numbers, force, assemble: config.build.assemble });
  return { planId, numbers };
}
