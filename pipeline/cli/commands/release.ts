import { EksdError, isEksdError } from '../../errors.ts';
import { runReleases, type ChannelOutcome, type RunResult } from '../../app/runner.ts';
import type { Retirement } from '../../app/retire.ts';
import { UNTIL, type Until } from '../../stages/lists/release.ts';
import { consoleReporter } from '../../report/console.ts';
import { summaryText, writeStepSummary, writeTimelineSummary } from '../../report/summary.ts';
import { timelineBars } from '../../report/bars.ts';
import { planRows, planText } from '../../report/plan.ts';
import { CONFIG_OPTIONS, EXIT, type Command, type CommandContext, type OptionSpec } from '../command.ts';
import { configFrom } from '../config-flags.ts';

export const RUN_OPTIONS: Record<string, OptionSpec> = {
  ...CONFIG_OPTIONS,
  channel: { type: 'string', multiple: true, description: 'a channel to release (repeatable; default: every active channel, and the retired ones to retire)', valueName: 'channel' },
  force: { type: 'boolean', description: 'rebuild every image regardless of build keys (the quarterly forced rebuild)' },
  'release-unchanged': { type: 'boolean', description: 'release a channel even when nothing changed since its latest release' },
  number: { type: 'string', description: 'release number, above every number the channel released (default: latest in the site + 1, or the unfinished run); checked before anything is built or written', valueName: 'N' },
  concurrency: { type: 'string', description: 'parallel builds (default: twice the number of cores)', valueName: 'N' },
  'channels-at-once': { type: 'string', description: 'channels released at once, sharing the build slots (default 1)', valueName: 'N' },
  json: { type: 'boolean', description: 'print the result as JSON on stdout' },
  'buildkit-only': { type: 'boolean', description: 'build every image through BuildKit, none with the assembler (config build.assemble: false, EKSD_ASSEMBLE=0)' },
};

export const releaseCommand: Command = {
  name: 'release',
  summary: 'rebuild, publish, write the Release manifest, verify it and announce it',
  usage: 'eksd release [--channel CH]... [--until plan|publish|release|verify|announce] [--dry-run] [--force] [--release-unchanged] [--number N] [--merge PLAN_ID]',
  details: [
    'Runs catalog -> resolve (artifacts verified) -> plan -> decide (reuse or build, per platform) -> build',
    '(per platform, by digest, then the index) -> versioned tags -> release (archives, manifest, CRDs on the',
    'site; write-once) -> verify (registry, site store, public site) -> pointers (channel file, floating',
    'tags) -> announce -> pin (for watch-base), for every active channel (or each --channel), one after the',
    'other. A channel whose versions, image digests and archive checksums equal its latest release is not',
    'released (--release-unchanged releases it anyway); a retired channel is marked inactive and announced once;',
    'a failed channel does not stop the others. An interrupted run is resumed by running the same command again,',
    'on this machine or another: each channel keeps its release number and redoes only unfinished work. One run',
    'per channel: a second one fails at once with exit 4 naming the lease holder. SIGTERM or SIGINT stops the run',
    'before its next stage or build (builds under way and an announcement being sent are finished), releases the',
    'lease and exits 143 / 130; the same command resumes it.',
    '--dry-run stops after the plan: nothing is built, pushed, written or announced.',
    '--merge PLAN_ID merges a split release: every platform image its jobs recorded (eksd build --platform P), each',
    'checked in the registry, nothing built; a missing or extra one stops it before any index is written.',
  ].join('\n'),
  options: {
    ...RUN_OPTIONS,
    until: { type: 'string', description: 'stop after this stage: plan, publish, release, verify or announce', valueName: 'stage' },
    'dry-run': { type: 'boolean', description: 'show the plan and stop; no side effects' },
    merge: { type: 'string', description: 'merge a split release: the platform images its jobs (eksd build --platform P) recorded under this plan id, checked, then indexes, tags, site, verify, announce', valueName: 'plan-id' },
    events: { type: 'string', description: 'progress format on stderr: auto (live on a terminal), plain, json', valueName: 'format' },
  },
  stoppable: true,
  run: (ctx) => runCommand(ctx, { dryRun: ctx.values['dry-run'] === true }),
};

export const planCommand: Command = {
  name: 'plan',
  summary: 'show what a release would build or reuse (and why), for which platforms, FROM which digest, pushed where',
  usage: 'eksd plan [--json] [--force]',
  details: 'The same decisions `eksd release` makes, made without building or pushing anything (like `docker buildx bake --print`).',
  options: RUN_OPTIONS,
  run: (ctx) => runCommand(ctx, { dryRun: true }),
};

async function runCommand(ctx: CommandContext, o: { dryRun: boolean }): Promise<number> {
  const until = parseStage(ctx.values.until);
  const number = parseInt(ctx.values.number, 'number');
  const concurrency = parseInt(ctx.values.concurrency, 'concurrency');
  const channelsAtOnce = parseInt(ctx.values['channels-at-once'], 'channels-at-once');
  const channels = Array.isArray(ctx.values.channel) ? ctx.values.channel as string[] : undefined;
  const loaded = configFrom(ctx);
  const config = ctx.values['buildkit-only'] === true ? { ...loaded, build: { assemble: false } } : loaded;
  // Each --channel is checked as the configuration checks a channel (same message, same exit code).
  for (const channel of channels ?? []) configFrom(ctx, { channel });
  const mode = (ctx.values.events as 'auto' | 'plain' | 'json' | undefined) ?? 'auto';
  if (!['auto', 'plain', 'json'].includes(mode)) throw new EksdError('USAGE', `--events must be auto, plain or json, not ${mode}`, { hint: 'eksd release --help' });
  const reporter = consoleReporter(process.stderr, mode);
  try {
    const { channels: outcomes, timeline } = await runReleases({ config, emit: (e) => reporter.emit(e), dryRun: o.dryRun,
      force: ctx.values.force === true, releaseUnchanged: ctx.values['release-unchanged'] === true, ...(channels ? { channels } : {}),
      ...(until ? { until } : {}), ...(number ? { number } : {}), ...(concurrency ? { concurrency } : {}), ...(channelsAtOnce ? { channelsAtOnce } : {}), ...(ctx.stop ? { stop: ctx.stop } : {}),
      ...(typeof ctx.values.merge === 'string' ? { merge: ctx.values.merge } : {}) });
    reporter.close();
    const single = outcomes.length === 1;
    for (const c of outcomes) if (c.state !== 'failed' && c.state !== 'retired' && c.state !== 'planned') writeStepSummary(c.result);
    if (!o.dryRun) writeTimelineSummary(timeline);
    // Plain logs (CI) end with where the run's time went; a terminal has the end table and the SVG's path.
    if (!o.dryRun && reporter.kind === 'plain') process.stderr.write(`\n${timelineBars(timeline)}`);
    const json = outcomes.map(channelJson);
    ctx.out(ctx.values.json ? JSON.stringify(single ? json[0] : { channels: json }, null, 2) : outcomes.map((c) => channelText(c, single)).join('\n\n'));
    throwFailures(outcomes);
    return EXIT.ok;
  } finally {
    reporter.close();
  }
}

function channelText(c: ChannelOutcome, single: boolean): string {
  const head = single ? '' : `== channel ${c.channel}: ${c.state}\n`;
  switch (c.state) {
    case 'failed': return `${head}failed: ${(c.error as Error).message.split('\n')[0]}`;
    case 'retired': return `${head}${retirementText(c.channel, c.retirement)}`;
    case 'planned': return `${head}${planText(c.result)}`;
    case 'unchanged': return `${head}channel ${c.channel}: nothing changed since ${c.result.comparison?.latest}; nothing released`;
    default: return `${head}${summaryText(c.result)}`;
  }
}

function retirementText(channel: string, r: Retirement): string {
  if (r.state === 'never-released') return `channel ${channel} is retired and never had a release; nothing to publish`;
  if (r.state === 'to-retire') return `channel ${channel} is retired: its ReleaseChannel would be marked inactive (latest release ${r.latestRelease}) and the retirement announced`;
  return `channel ${channel} retired: releasechannels/${channel}.yaml has status.active: false (latest release ${r.latestRelease}); ${r.announcement?.skipped ? 'already announced' : `announced via ${r.announcement?.via}`}`;
}

function channelJson(c: ChannelOutcome) {
  switch (c.state) {
    case 'failed': return { channel: c.channel, state: c.state, error: (c.error as Error).message };
    case 'retired': return { channel: c.channel, state: c.state, retirement: c.retirement };
    case 'planned': return { channel: c.channel, state: c.state, plan: c.result.plan, decisions: planRows(c.result) };
    default: return { ...jsonResult(c.result), state: c.state };
  }
}

/** One failed channel fails the command with its own error (and exit code); several, with one naming each. */
function throwFailures(outcomes: ChannelOutcome[]): void {
  const failed = outcomes.filter((c): c is Extract<ChannelOutcome, { state: 'failed' }> => c.state === 'failed');
  if (failed.length === 1 && outcomes.length === 1) throw failed[0]!.error;
  // A stop asked for by SIGTERM / SIGINT ends the command as such (exit 130 / 143), whatever else failed.
  const stopped = failed.find((f) => isEksdError(f.error, 'RUN_INTERRUPTED'));
  if (stopped) throw stopped.error;
  if (failed.length === 0) return;
  const lines = failed.map((f) => `channel ${f.channel}: ${(f.error as Error).message.split('\n')[0]}`);
  throw new EksdError('RELEASE_CHANNEL_FAILED', `${failed.length} of ${outcomes.length} channels failed; the others completed:\n  ${lines.join('\n  ')}`, {
    where: failed.map((f) => f.channel).join(', '), hint: 'fix the cause and run eksd release again: each failed channel resumes where it stopped',
  });
}

/** A channel with nothing new names no release: its number stays free and no versioned tag was written. */
function jsonResult(result: RunResult) {
  const released = !result.comparison || result.comparison.changed;
  return {
    release: released ? result.plan.release : null, number: released ? result.plan.number : null, channel: result.plan.channel, resumed: result.resumed, ms: result.ms,
    images: result.images.map((i) => ({ name: i.plan.name, uri: released ? i.plan.uri : null, digest: i.index.digest,
      tags: released ? [i.plan.tags.versioned, ...i.plan.tags.floating] : i.plan.tags.floating,
      changed: i.changed ?? null, platforms: Object.fromEntries(Object.entries(i.platforms).map(([k, p]) => [k, { digest: p!.manifest.digest, built: p!.built, reason: p!.reason }])) })),
    manifest: result.release?.manifestPath ?? null,
    changes: result.comparison ? { since: result.comparison.latest, what: result.comparison.changes } : null,
    verify: result.release?.verify ?? null,
    announcement: result.release?.announcement ?? null,
  };
}

function parseStage(v: unknown): Until | undefined {
  if (v === undefined) return undefined;
  const points = Object.keys(UNTIL);
  if (typeof v !== 'string' || !points.includes(v)) throw new EksdError('USAGE', `--until must be one of ${points.join(', ')}, not '${String(v)}'`, { hint: 'eksd release --help' });
  return v as Until;
}

export function parseInt(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^[1-9]\d*$/.test(v)) throw new EksdError('USAGE', `--${flag} must be a positive integer, not '${String(v)}'`, { hint: `eksd --help` });
  return Number(v);
}
