/**
 * `eksd release --merge <plan id>`: before any channel runs, the plan id is computed again and must be
 * the one given; then every planned (channel, image, platform) unit must be recorded exactly once by the
 * job of its platform, and each recorded digest served by the registry as a manifest for that platform.
 * Anything missing, extra or wrong stops the merge here, before any index is written, naming the unit
 * and the job that should have made it. What passes is handed to each channel's release as its build.
 */
import { loadCatalog, loadPin } from '../catalog/load.ts';
import type { ChannelSpec } from '../catalog/model.ts';
import { forChannel, type Config, type Platform } from '../config/config.ts';
import { EksdError } from '../errors.ts';
import { makePlan, type ImagePlan } from '../plan/plan.ts';
import type { ClientFactory } from '../registry/client.ts';
import type { BuildRecord, PlatformRecord } from '../stages/images/types.ts';
import type { Stores } from '../store/open.ts';
import { lastJobPlan, readUnits, type SplitUnits } from './split-units.ts';
import { splitPlan } from './split-plan.ts';

export interface MergeInputs { planId: string; numbers: Record<string, number>; records: Record<string, BuildRecord> }

export async function mergeInputs(config: Config, stores: Stores, clients: ClientFactory, channels: ChannelSpec[], given: string, force: boolean): Promise<MergeInputs> {
  const active = channels.filter((c) => c.active);
  const { planId, numbers } = await splitPlan(config, stores, active, force);
  if (given !== planId) throw mismatch(`--merge ${given}`, given, planId);
  const records: Record<string, BuildRecord> = {};
  const problems: string[] = [];
  for (const { name } of active) {
    const plan = makePlan(forChannel(config, name), loadCatalog(config, name), loadPin(config.basePin), numbers[name]!);
    const record: BuildRecord = (records[name] = {});
    for (const platform of platformsOf(plan.images)) {
      const units = await readUnits(stores.state, planId, name, platform);
      if (!units) {
        const other = await lastJobPlan(stores.state, platform);
        if (other && other !== planId) throw mismatch(`the ${platform} job`, other, planId);
        problems.push(`${name}: no ${platform} units (the ${platform} job has not recorded plan ${planId}): ${plan.images.filter((i) => i.platforms.includes(platform)).map((i) => i.name).join(', ')}`);
        continue;
      }
      problems.push(...unitProblems(units, plan.images, platform));
      for (const [image, r] of Object.entries(units.images)) (record[image] ??= { platforms: {} }).platforms[platform] = r;
    }
  }
  if (problems.length === 0) problems.push(...await servedProblems(records, clients, config, numbers));
  if (problems.length > 0) {
    throw new EksdError('SPLIT_INCOMPLETE', `the merge of plan ${planId} stopped before writing any index:\n  ${problems.join('\n  ')}`, {
      where: stores.state.where(`splits/${planId}/`), hint: 'run the named platform jobs (eksd build --platform P) from the same commit, then the merge again',
    });
  }
  return { planId, numbers, records };
}

function mismatch(who: string, theirs: string, ours: string): EksdError {
  return new EksdError('SPLIT_PLAN_MISMATCH', `${who} is plan ${theirs}, but this checkout's plan is ${ours}: the catalog, base pin, release numbers or flags differ`, {
    where: who, hint: `run every job and the merge from the same commit with the same flags; \`eksd plan-id\` prints this checkout's plan id (${ours})`,
  });
}

function platformsOf(images: ImagePlan[]): Platform[] {
  return [...new Set(images.flatMap((i) => i.platforms))].sort();
}

/** Every planned image of the platform once, nothing else, recorded for this plan and platform. */
function unitProblems(units: SplitUnits, images: ImagePlan[], platform: Platform): string[] {
  const at = (image: string) => `${units.channel} ${image} ${platform} (the ${platform} job)`;
  const planned = images.filter((i) => i.platforms.includes(platform)).map((i) => i.name);
  const recorded = Object.keys(units.images);
  return [
    ...(units.platform !== platform ? [`${units.channel}: the ${platform} units say ${units.platform}`] : []),
    ...planned.filter((n) => !recorded.includes(n)).map((n) => `${at(n)}: missing`),
    ...recorded.filter((n) => !planned.includes(n)).map((n) => `${at(n)}: not in the plan (extra)`),
  ];
}

/** Each recorded digest is a manifest in its repository, for its platform. */
async function servedProblems(records: Record<string, BuildRecord>, clients: ClientFactory, config: Config, numbers: Record<string, number>): Promise<string[]> {
  const problems: string[] = [];
  for (const [channel, record] of Object.entries(records)) {
    const plan = makePlan(forChannel(config, channel), loadCatalog(config, channel), loadPin(config.basePin), numbers[channel]!);
    for (const image of plan.images) {
      for (const [platform, r] of Object.entries(record[image.name]?.platforms ?? {}) as Array<[Platform, PlatformRecord]>) {
        const found = await platformOf(clients, image, r.manifest.digest);
        if (found !== platform) problems.push(`${channel} ${image.name} ${platform} (the ${platform} job): ${image.registry}/${image.repository}@${r.manifest.digest} ${found ? `is for ${found}` : 'is not in the registry'}`);
      }
    }
  }
  return problems;
}

async function platformOf(clients: ClientFactory, image: ImagePlan, digest: string): Promise<string | undefined> {
  const client = clients(image.registry);
  if (!await client.headManifest(image.repository, digest)) return undefined;
  const manifest = await client.getManifest(image.repository, digest);
  const configDigest = (manifest.json as { config?: { digest?: string } }).config?.digest;
  if (!configDigest) return 'no platform (not an image manifest)';
  const c = JSON.parse((await client.getBlob(image.repository, configDigest)).toString('utf8')) as { os?: string; architecture?: string };
  return [c.os, c.architecture].filter(Boolean).join('/');
}
