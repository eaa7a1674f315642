/**
 * What split jobs record in the state store: per plan id, channel and platform, the platform images the
 * job pushed by digest (or reused), written after every image so a job killed and run again reuses them;
 * and per platform, the plan id the latest job of that platform ran under, so a merge whose plan differs
 * can name the job's id beside its own.
 */
import type { Platform } from '../config/config.ts';
import { EksdError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import type { BuildRecord, PlatformRecord } from '../stages/images/types.ts';

/** One job's units for one channel: the platform image of every image of the plan. */
export interface SplitUnits {
  planId: string;
  channel: string;
  platform: Platform;
  images: Record<string, PlatformRecord>;
}

const arch = (platform: Platform) => platform.replace('/', '-');

export const unitsKey = (planId: string, channel: string, platform: Platform) => `splits/${planId}/${channel}/${arch(platform)}.json`;
const jobKey = (platform: Platform) => `splits/jobs/${arch(platform)}.json`;

export async function readUnits(state: Store, planId: string, channel: string, platform: Platform): Promise<SplitUnits | undefined> {
  const key = unitsKey(planId, channel, platform);
  const found = await state.get(key);
  if (!found) return undefined;
  try {
    return JSON.parse(found.bytes.toString('utf8')) as SplitUnits;
  } catch (e) {
    throw new EksdError('SPLIT_INCOMPLETE', `the split units at ${state.where(key)} are not JSON: ${(e as Error).message}`, {
      where: state.where(key), hint: `run the ${platform} job of plan ${planId} again: it writes them anew`,
    });
  }
}

export async function writeUnits(state: Store, units: SplitUnits): Promise<void> {
  await state.put(unitsKey(units.planId, units.channel, units.platform), `${JSON.stringify(units, null, 2)}\n`);
}

/** The channel's units as the build stage records them (a one-platform BuildRecord), and back. */
export function unitsOf(planId: string, channel: string, platform: Platform, record: BuildRecord): SplitUnits {
  const images: Record<string, PlatformRecord> = {};
  for (const [name, image] of Object.entries(record)) {
    const r = image.platforms[platform];
    if (r) images[name] = r;
  }
  return { planId, channel, platform, images };
}

export function recordOf(units: SplitUnits): BuildRecord {
  return Object.fromEntries(Object.entries(units.images).map(([name, r]) => [name, { platforms: { [units.platform]: r } }]));
}

export async function noteJob(state: Store, platform: Platform, planId: string): Promise<void> {
  await state.put(jobKey(platform), `${JSON.stringify({ planId, platform, at: new Date().toISOString() })}\n`);
}

/** The plan id the latest job of this platform ran under, if any ran. */
export async function lastJobPlan(state: Store, platform: Platform): Promise<string | undefined> {
  const found = await state.get(jobKey(platform));
  if (!found) return undefined;
  try { return (JSON.parse(found.bytes.toString('utf8')) as { planId?: string }).planId; } catch { return undefined; }
}
