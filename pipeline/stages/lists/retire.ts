/**
 * The stages that retire a channel, in order, run by `eksd release` through the one loop (app/loop.ts)
 * for a channel marked `active: false`: read its latest release (a channel never released stops here),
 * then, under the channel's lease, mark its ReleaseChannel inactive and announce the retirement once.
 * A dry run only reads. The retirement's outcome comes from how the loop ended.
 */
import type { ChannelSpec } from '../../catalog/model.ts';
import type { AnnounceSettings } from '../../announce/release.ts';
import type { Stores } from '../../store/open.ts';
import { leaseOf, need, stage, type LoopEnd, type Stage } from '../stage.ts';
import { announceDetail, type AnnounceOutcome } from '../announce.ts';
import { announceRetirement, channelLatest, markRetired, type ChannelLatest } from '../retire.ts';

export interface RetireEnv { channel: ChannelSpec; settings: AnnounceSettings; stores: Stores }

export interface RetireOutputs {
  latest: ChannelLatest;
  inactive: { channelFile: string };
  announce: AnnounceOutcome;
}

export interface Retirement {
  state: 'retired' | 'already-retired' | 'never-released' | 'to-retire';
  latestRelease: number;
  announcement?: AnnounceOutcome;
}

type RetireStage = Stage<RetireOutputs, keyof RetireOutputs & string>;

export function retireStages(env: RetireEnv): RetireStage[] {
  const { channel, settings, stores } = env;
  const latestRelease = (out: Partial<RetireOutputs>) => need(out, 'latest').latestRelease;
  return [
    stage('latest', () => channelLatest(stores.site, channel.name),
      { dry: true, stopsIf: (l) => !l.released, detail: (l) => l.released ? `latest release ${l.latestRelease}` : 'never released: nothing to retire' }),
    stage('inactive', ({ out, run }) => markRetired({ site: stores.site, channel: channel.name, latestRelease: latestRelease(out), lease: leaseOf(run),
      ...(channel.retired ? { retired: channel.retired } : {}), ...(settings.announce.topicArn ? { snsTopicArn: settings.announce.topicArn } : {}) }), { opensRun: true, detail: (c) => `${c.channelFile} marked inactive` }),
    stage('announce', ({ out, run }) => announceRetirement({ settings, stores, lease: leaseOf(run), channel, latestRelease: latestRelease(out) }),
      { detail: announceDetail }),
  ];
}

/** What became of the retirement, from how its list ended. */
export function retirementOf(end: LoopEnd, out: Partial<RetireOutputs>): Retirement {
  const latestRelease = out.latest?.latestRelease ?? 0;
  if (end.by === 'stage' && end.stage === 'latest') return { state: 'never-released', latestRelease: 0 };
  if (end.by === 'dry-run') return { state: 'to-retire', latestRelease };
  const announcement = need(out, 'announce');
  return { state: announcement.skipped ? 'already-retired' : 'retired', latestRelease, announcement };
}
