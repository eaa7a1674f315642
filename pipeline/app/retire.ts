/**
 * A retired channel's turn in `eksd release`: the retire stage list (stages/lists/retire.ts) through the
 * loop, under the channel's lease: its ReleaseChannel marked inactive and the retirement announced once.
 */
import type { ChannelConfig } from '../config/config.ts';
import type { ChannelSpec } from '../catalog/model.ts';
import type { Stores } from '../store/open.ts';
import type { Emit } from '../stages/events.ts';
import { retireStages, retirementOf, type Retirement } from '../stages/lists/retire.ts';
import { runStages } from './loop.ts';
import type { StopRequest } from './stop.ts';

export type { Retirement } from '../stages/lists/retire.ts';

export interface RetireOptions {
  config: ChannelConfig;
  channel: ChannelSpec;
  stores: Stores;
  dryRun: boolean;
  /** Progress, and what goes wrong after the outcome is settled (the lease not released). */
  emit: Emit;
  stop?: StopRequest;
}

export async function retireChannel(o: RetireOptions): Promise<Retirement> {
  const { config, channel, stores } = o;
  const { out, end } = await runStages(retireStages({ channel, settings: config, stores }), {
    emit: o.emit, dryRun: o.dryRun, ...(o.stop ? { stop: o.stop } : {}),
    lease: { store: stores.state, channel: channel.name, command: `eksd release: retire ${channel.name} (pid ${process.pid})`, ttlSeconds: config.leaseSeconds },
  });
  return retirementOf(end, out);
}
