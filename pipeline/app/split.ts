/**
 * `eksd build --platform P`: one job of a split release. For every selected active channel it runs the
 * release's stages up to build over one platform (splitStages): the platform images are built or reused
 * and pushed by digest only (no index, no tag, no site, no announcement), and recorded in the state store
 * under the plan id after every image, so a job killed and run again reuses what it recorded and the
 * registry still serves. It takes no lease: the jobs of a batch run at once, and only the merge
 * (`eksd release --merge`) writes what a release owns.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { forChannel, type ChannelConfig, type Config, type Platform } from '../config/config.ts';
import { EksdError } from '../errors.ts';
import { openStores, type Stores } from '../store/open.ts';
import type { Emit } from '../stages/events.ts';
import type { SharedBuilds } from '../stages/images/types.ts';
import { splitStages, type ReleaseEnv, type ReleaseOutputs, type ReleaseRun } from '../stages/lists/release.ts';
import { limiter } from '../util/limit.ts';
import { buildersAt, type Builders } from './builders.ts';
import { selectChannels } from './channels.ts';
import { registryClients } from './clients.ts';
import { runStages, type OpenRun } from './loop.ts';
import { noteJob, readUnits, recordOf, unitsKey, unitsOf, writeUnits } from './split-units.ts';
import { splitPlan } from './split-plan.ts';
import type { StopRequest } from './stop.ts';

export interface SplitOptions {
  config: Config;
  platform: Platform;
  emit: Emit;
  channels?: string[];
  force?: boolean;
  concurrency?: number;
  stop?: StopRequest;
  builders?: Builders;
}

export interface SplitChannel { channel: string; number: number; built: number; reused: number; units: string }
export interface SplitResult { planId: string; platform: Platform; channels: SplitChannel[]; ms: number }

export async function runSplit(o: SplitOptions): Promise<SplitResult> {
  const started = Date.now();
  if (!o.config.platforms.includes(o.platform)) {
    throw new EksdError('USAGE', `--platform ${o.platform} is not one of the configured platforms (${o.config.platforms.join(', ')})`, {
      where: '--platform', hint: `choose one of ${o.config.platforms.join(', ')}` });
  }
  const channels = selectChannels(o.config, o.channels).filter((c) => c.active);
  const stores = await openStores(o.config);
  const { planId, numbers } = await splitPlan(o.config, stores, channels, o.force === true);
  o.emit({ type: 'info', message: `plan ${planId}: ${o.platform} of ${channels.map((c) => `${c.name} (release ${numbers[c.name]})`).join(', ')}` });
  await noteJob(stores.state, o.platform, planId);
  const builders = o.builders ?? buildersAt({ ...o.config, assemble: o.config.build.assemble });
  const shared: SharedBuilds = new Map();
  const slots = limiter(Math.max(1, o.concurrency ?? (o.config.concurrency || cpus().length * 2)));
  const done: SplitChannel[] = [];
  try {
    for (const channel of channels) {
      const config = forChannel(o.config, channel.name);
      const emit: Emit = channels.length > 1 ? (e) => o.emit({ ...e, channel: channel.name }) : o.emit;
      const env: ReleaseEnv & { split: { platform: Platform } } = {
        config, clients: registryClients(o.config), stores, builders, shared, slots, force: o.force === true, releaseUnchanged: false,
        concurrency: o.concurrency ?? (config.concurrency || cpus().length * 2), cacheDir: join(config.artifacts.cacheDir, '..'), date: '', split: { platform: o.platform },
      };
      const { out } = await runStages(splitStages(env), { emit, ...(o.stop ? { stop: o.stop } : {}), open: () => openJob(stores, planId, config, o.platform, numbers[channel.name]!) });
      const records = Object.values(out.build ?? {}).map((i) => i.platforms[o.platform]).filter((r) => r !== undefined);
      done.push({ channel: channel.name, number: numbers[channel.name]!, built: records.filter((r) => r.built).length,
        reused: records.filter((r) => !r.built).length, units: stores.state.where(unitsKey(planId, channel.name, o.platform)) });
    }
  } finally {
    await builders.close();
  }
  return { planId, platform: o.platform, channels: done, ms: Date.now() - started };
}

/** Opens one channel's job: what an earlier run of the same job recorded is handed back; the build stage's progress is recorded as units. */
async function openJob(stores: Stores, planId: string, config: ChannelConfig, platform: Platform, number: number): Promise<OpenRun<ReleaseOutputs, ReleaseRun>> {
  const earlier = await readUnits(stores.state, planId, config.channel, platform);
  const where = stores.state.where(unitsKey(planId, config.channel, platform));
  let writes = Promise.resolve();
  return {
    recorded: earlier ? { build: recordOf(earlier) } : {},
    run: { number, journal: where, resumed: earlier !== undefined },
    journal: {
      record: (stage, output) => {
        if (stage !== 'build') return Promise.resolve();
        const units = unitsOf(planId, config.channel, platform, output as ReleaseOutputs['build']);
        writes = writes.then(() => writeUnits(stores.state, units)); // in order: a later checkpoint is never overwritten by an earlier one
        return writes;
      },
    },
  };
}
