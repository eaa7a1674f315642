/**
 * `eksd release`: every selected channel (by default every active channel of the catalog), one after
 * the other or several at once (`channelsAtOnce`; a dry run one after the other), each its own release: its own lease, journal, number,
 * manifest, verify and announcement, its events tagged with the channel. What the channels share is set up
 * once (configuration, registry clients, stores, the builders, the build slots, the build keys: a key is
 * built once however many channels need it). A channel
 * whose release fails does not stop the others; a channel with nothing new is not released; a retired
 * channel gets its ReleaseChannel marked inactive and one retirement announcement.
 *
 * One channel's release runs the release's stage list (stages/lists/release.ts) through the loop, which takes the
 * channel's lease; opening the run then reads its journal: an interrupted run is resumed under its number,
 * on this machine or another. A run that got to the end closes its journal. What became of the channel is
 * the list's outcome (`releaseOutcome`), from how the loop ended.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { forChannel, type ChannelConfig, type Config } from '../config/config.ts';
import { EksdError } from '../errors.ts';
import { loadCatalog } from '../catalog/load.ts';
import type { ChannelSpec } from '../catalog/model.ts';
import type { Plan } from '../plan/plan.ts';
import { openStores, type Stores } from '../store/open.ts';
import { proveConditionalWrites } from '../store/probe.ts';
import { refuseStateInSite } from '../store/legacy-state.ts';
import type { VerifyReport } from '../site/verify.ts';
import type { Release } from '../release/types.ts';
import { publishedImages, type PublishedImage } from '../stages/images/published.ts';
import type { ImageDecision, SharedBuilds } from '../stages/images/types.ts';
import { releaseOutcome, releaseStages, UNTIL, type ReleaseEnv, type ReleaseOutputs, type ReleaseRun, type ReleaseState, type Until } from '../stages/lists/release.ts';
import type { AnnounceOutcome } from '../stages/announce.ts';
import type { Comparison } from '../stages/compare.ts';
import type { SiteOutcome } from '../stages/release.ts';
import type { Emit } from '../stages/events.ts';
import type { ClientFactory } from '../registry/client.ts';
import { engineName } from '../builders/buildkit/engine.ts';
import { timelineRecorder, type Timeline, type TimelineRecorder } from '../stages/timeline.ts';
import { buildersAt, type Builders } from './builders.ts';
import { limiter } from '../util/limit.ts';
import { turnOrder, type Turn } from '../util/turn-order.ts';
import type { Slots } from '../stages/images/carry.ts';
import { registryClients } from './clients.ts';
import { Journal } from './journal.ts';
import { releaseNumber } from './number.ts';
import { runStages, type OpenRun } from './loop.ts';
import { retireChannel, type Retirement } from './retire.ts';
import type { StopRequest } from './stop.ts';
import { storeTimeline } from './timeline.ts';
import { CHANNELS_AT_ONCE, selectChannels } from './channels.ts';
import { fromIndexBytes } from '../site/pages/platforms.ts';
import { mergeInputs, type MergeInputs } from './merge.ts';
import { attestingFor } from './signing.ts';
import { sourceCommit } from '../attest/ci-context.ts';
import type { Attesting } from '../stages/attest/stage.ts';

export interface RunOptions {
  config: Config;
  emit: Emit;
  /** Channels to release (default: the configured channel, else every active channel and every channel to retire). */
  channels?: string[];
  /** Stop after this point (default: announce). */
  until?: Until;
  dryRun?: boolean;
  force?: boolean;
  /** Release a channel even when nothing changed since its latest release. */
  releaseUnchanged?: boolean;
  /** The release number (one channel only). */
  number?: number;
  /** Release numbers by channel (for several channels at once). */
  numbers?: Record<string, number>;
  concurrency?: number;
  /** SIGTERM / SIGINT: stop at the next safe point (before a stage, a build, a channel), release the lease. */
  stop?: StopRequest;
  /** The builders, in the order of preference (default: the assembler, then BuildKit on the configured engine). */
  builders?: Builders;
  /** Channels released at once (default CHANNELS_AT_ONCE); their builds share the `concurrency` slots. */
  channelsAtOnce?: number;
  /** A split release's plan id: merge what its platform jobs recorded instead of building (app/merge.ts). */
  merge?: string;
}

export interface ReleaseOutcome extends SiteOutcome { manifest?: Release; verify?: VerifyReport; announcement?: AnnounceOutcome;
  /** Where the picture of the run is (kubernetes-<ch>/releases/<N>/timeline.svg in the site store). */
  timeline?: string }

export interface RunResult {
  plan: Plan;
  images: PublishedImage[];
  release?: ReleaseOutcome;
  /** Set on a dry run: per image and platform, build or reuse and why. */
  decisions?: ImageDecision[];
  /** Whether there was anything to release, and what. */
  comparison?: Comparison;
  resumed: boolean;
  ms: number;
}

export type ChannelOutcome =
  | { channel: string; state: ReleaseState; result: RunResult }
  | { channel: string; state: 'retired'; retirement: Retirement }
  | { channel: string; state: 'failed'; error: unknown };

export interface ReleasesResult { channels: ChannelOutcome[]; ms: number; timeline: Timeline }

/** What every channel's release shares in one run. */
interface Shared { clients: ClientFactory; stores: Stores; builders: Builders; builds: SharedBuilds; slots: Slots; timeline: TimelineRecorder; decideTurn?: Turn; merged?: MergeInputs;
  signing?: Attesting }

export async function runReleases(options: RunOptions): Promise<ReleasesResult> {
  const started = Date.now();
  const timeline = timelineRecorder(engineName(options.config.dockerSocket));
  const o = { ...options, emit: timeline.emit(options.emit) };
  const selected = selectChannels(o.config, o.channels);
  // Loading one channel checks every channel's catalog: bad input fails here, once, before any channel is touched.
  if (selected[0]) loadCatalog(o.config, selected[0].name);
  if (o.number !== undefined && selected.length > 1) {
    throw new EksdError('USAGE', `--number gives one channel's release number; ${selected.length} channels are selected (${selected.map((c) => c.name).join(', ')})`, {
      where: '--number', hint: 'add --channel <ch> to release one channel under a chosen number',
    });
  }
  const stores = await openStores(o.config);
  await refuseStateInSite(o.config, stores);
  if (!o.dryRun && o.until !== 'plan') await proveConditionalWrites(stores.state);
  const builders = o.builders ?? buildersAt({ ...o.config, assemble: o.config.build.assemble });
  const slots = limiter(Math.max(1, o.concurrency ?? (o.config.concurrency || defaultConcurrency())));
  const clients = registryClients(o.config);
  const merged = o.merge ? await mergeInputs(o.config, stores, clients, selected, o.merge, o.force === true) : undefined;
  const signing = await attestingFor(o.config, { stores, channels: selected, force: o.force === true, dryRun: o.dryRun === true || o.until === 'plan', ...(merged ? { merged } : {}) });
  const shared: Shared = { clients, stores, builders, builds: new Map(), slots, timeline, ...(merged ? { merged } : {}), ...(signing ? { signing } : {}) };
  // A plan (dry run) decides the channels one after the other, so it says which channel builds a shared key.
  const atOnce = limiter(o.dryRun || o.until === 'plan' ? 1 : Math.max(1, o.channelsAtOnce ?? CHANNELS_AT_ONCE));
  let outcomes: ChannelOutcome[];
  try {
    const turns = turnOrder(selected.length);
    outcomes = await Promise.all(selected.map((channel, i) => atOnce(async (): Promise<ChannelOutcome> => {
      try {
        if (o.stop?.signal) return { channel: channel.name, state: 'failed', error: o.stop.error(`channel ${channel.name}`) };
        const emit: Emit = selected.length > 1 ? (e) => o.emit({ ...e, channel: channel.name }) : o.emit;
        if (selected.length > 1) emit({ type: 'info', message: `channel ${channel.name}${channel.active ? '' : ' (retired)'}` });
        return await releaseOne({ ...o, emit }, forChannel(o.config, channel.name), channel, { ...shared, decideTurn: turns[i]! });
      } finally {
        turns[i]!.over(); // a channel that ends before deciding does not hold the next one up
      }
    })));
  } finally {
    await builders.close();
  }
  return { channels: outcomes, ms: Date.now() - started, timeline: timeline.timeline() };
}

/** One channel, between its channel events (what became of it, for the reporters and the timeline). */
async function releaseOne(o: RunOptions, config: ChannelConfig, channel: ChannelSpec, shared: Shared): Promise<ChannelOutcome> {
  const started = Date.now();
  o.emit({ type: 'channel', channel: channel.name, state: 'started' });
  const outcome = await releaseOrRetire(o, config, channel, shared);
  o.emit({ type: 'channel', channel: channel.name, state: 'finished', outcome: outcome.state, ms: Date.now() - started, ...channelNotes(outcome) });
  return outcome;
}

function channelNotes(c: ChannelOutcome): { release?: string; detail?: string } {
  if (c.state === 'failed') return { detail: (c.error as Error).message.split('\n')[0]! };
  if (c.state === 'retired') return c.retirement.state === 'retired' ? {} : { detail: c.retirement.state };
  if (c.state === 'unchanged') return { detail: `nothing changed since ${c.result.comparison?.latest}` };
  return c.state === 'released' ? { release: c.result.plan.release } : {};
}

/** One channel; a failure is returned, not thrown, so the other channels go on. */
async function releaseOrRetire(o: RunOptions, config: ChannelConfig, channel: ChannelSpec, shared: Shared): Promise<ChannelOutcome> {
  try {
    if (!channel.active) {
      shared.decideTurn?.over(); // a retirement decides nothing: the channels after it need not wait for it
      const retirement = await retireChannel({ config, channel, stores: shared.stores, dryRun: o.dryRun === true, emit: o.emit, ...(o.stop ? { stop: o.stop } : {}) });
      return { channel: channel.name, state: 'retired', retirement };
    }
    const number = shared.merged?.numbers[channel.name] ?? o.numbers?.[channel.name] ?? o.number;
    const { state, result } = await runRelease({ ...o, config, ...(number !== undefined ? { number } : {}) }, shared);
    return { channel: channel.name, state, result };
  } catch (error) {
    o.emit({ type: 'info', message: `channel ${channel.name} failed: ${(error as Error).message.split('\n')[0]}` });
    return { channel: channel.name, state: 'failed', error };
  }
}

/** One channel's release through the stage list. */
async function runRelease(o: RunOptions & { config: ChannelConfig }, shared: Shared): Promise<{ state: ReleaseState; result: RunResult }> {
  const started = Date.now();
  const { config } = o;
  const dryRun = o.dryRun === true || o.until === 'plan';
  const env: ReleaseEnv = {
    config, clients: shared.clients, stores: shared.stores, builders: shared.builders, shared: shared.builds, slots: shared.slots, ...(shared.decideTurn ? { decideTurn: shared.decideTurn } : {}),
    force: o.force ?? false, releaseUnchanged: o.releaseUnchanged ?? false, concurrency: o.concurrency ?? (config.concurrency || defaultConcurrency()),
    cacheDir: join(config.artifacts.cacheDir, '..'), date: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(sourceCommit(process.env) ? { commit: sourceCommit(process.env)! } : {}), ...(shared.merged ? { merged: shared.merged.records[config.channel] ?? {} } : {}),
    ...(shared.signing ? { signing: shared.signing } : {}),
  };
  const { out, end, run } = await runStages(releaseStages(env), {
    emit: o.emit, dryRun, until: UNTIL[o.until ?? 'announce'], ...(o.stop ? { stop: o.stop } : {}),
    lease: { store: env.stores.state, channel: config.channel, command: `eksd release (pid ${process.pid})`, ttlSeconds: config.leaseSeconds },
    open: () => openRelease(o, env, dryRun),
  });
  const state = releaseOutcome(end);
  const done = result(out, run?.resumed === true, state === 'planned', started);
  if (state === 'released' && run && done.release) {
    const platforms = fromIndexBytes(new Map(done.images.map((i) => [i.index.digest, i.indexBytes])));
    done.release.timeline = await storeTimeline(env.stores.site, config.channel, run.number, shared.timeline.timeline(), platforms, o.emit);
  }
  return { state, result: done };
}

/**
 * Opens a channel's release run, under its lease: an unfinished run is resumed under its number, else a
 * journal is started under the next one (none on a dry run). Closing it, at the end of the list, archives a
 * released run's journal and drops an unchanged one's (its number stays free).
 */
async function openRelease(o: RunOptions, env: ReleaseEnv, dryRun: boolean): Promise<OpenRun<ReleaseOutputs, ReleaseRun>> {
  const { channel } = env.config;
  const existing = await Journal.unfinished<ReleaseOutputs>(env.stores.state, channel);
  const number = await releaseNumber({ channel, site: env.stores.site, ...(o.number !== undefined ? { wanted: o.number } : {}),
    ...(existing ? { unfinished: { number: existing.data.number, file: existing.file } } : {}) });
  if (existing) o.emit({ type: 'info', message: `resuming release ${number} of channel ${channel} from ${existing.file}` });
  const journal = dryRun ? undefined : existing ?? await Journal.start(env.stores.state, channel, number);
  return {
    ...(journal ? { journal } : {}), recorded: existing?.recorded ?? {},
    run: { number, journal: (existing ?? journal)?.file ?? '', resumed: existing !== undefined },
    close: async (end) => {
      const state = releaseOutcome(end);
      if (state === 'released') await journal?.archive();
      if (state === 'unchanged') await journal?.discard();
    },
  };
}

function result(out: Partial<ReleaseOutputs>, resumed: boolean, dryRun: boolean, started: number): RunResult {
  const plan = out.plan!;
  const images = out.build ? publishedImages(plan, out.build) : [];
  const release = out.release ? { ...out.release, ...(out.verify ? { manifest: out.verify.release, verify: out.verify.report } : {}), ...(out.announce ? { announcement: out.announce } : {}) } : undefined;
  return { plan, images, ...(release ? { release } : {}), ...(dryRun && out.decide ? { decisions: out.decide.decisions } : {}),
    ...(out.compare ? { comparison: out.compare } : {}), resumed, ms: Date.now() - started };
}

/**
 * Builds spend much of their time waiting on the engine (session setup, exports, pushes), so two builds
 * per core keep the cores busy; measured about 15% faster than one per core on the full catalog.
 */
export function defaultConcurrency(): number {
  return Math.max(2, cpus().length * 2);
}
