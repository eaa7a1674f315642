/**
 * `eksd build --platform P`: one platform job of a split release (app/split.ts), and `eksd plan-id`: the
 * plan id this checkout's jobs and merge share (app/split-plan.ts), for a CI merge step.
 */
import { runSplit, type SplitResult } from '../../app/split.ts';
import { splitPlan } from '../../app/split-plan.ts';
import { selectChannels } from '../../app/channels.ts';
import type { Platform } from '../../config/config.ts';
import { EksdError } from '../../errors.ts';
import { consoleReporter } from '../../report/console.ts';
import { openStores } from '../../store/open.ts';
import { CONFIG_OPTIONS, EXIT, type Command, type CommandContext, type OptionSpec } from '../command.ts';
import { configFrom } from '../config-flags.ts';
import { parseInt } from './release.ts';

const PLAN_OPTIONS: Record<string, OptionSpec> = {
  ...CONFIG_OPTIONS,
  channel: { type: 'string', multiple: true, description: 'a channel to build (repeatable; default: every active channel)', valueName: 'channel' },
  force: { type: 'boolean', description: 'rebuild every image regardless of build keys (part of the plan id: give it to every job and the merge)' },
  'buildkit-only': { type: 'boolean', description: 'build every image through BuildKit (part of the plan id)' },
  json: { type: 'boolean', description: 'print the result as JSON on stdout' },
};

export const buildCommand: Command = {
  name: 'build',
  summary: 'one platform job of a split release: build and push that platform\'s images by digest, recorded under the plan id',
  usage: 'eksd build --platform linux/amd64|linux/arm64 [--channel CH]... [--force] [--json]',
  details: [
    'Decides and builds one platform\'s images for every selected channel and pushes them by digest only: no',
    'index, tag, site or announcement. What it made is recorded in the state store under the plan id (a digest',
    'of the catalog, base pin, release numbers and flags), which every job of a batch computes alike; a job run',
    'again reuses what it recorded and the registry serves. Then `eksd release --merge <plan id>` writes the',
    'indexes and releases, once.',
  ].join('\n'),
  options: {
    ...PLAN_OPTIONS,
    platform: { type: 'string', description: 'the platform this job builds, e.g. linux/arm64', valueName: 'platform' },
    concurrency: { type: 'string', description: 'parallel builds (default: twice the number of cores)', valueName: 'N' },
    events: { type: 'string', description: 'progress format on stderr: auto, plain, json', valueName: 'format' },
  },
  stoppable: true,
  run: runBuild,
};

export const planIdCommand: Command = {
  name: 'plan-id',
  summary: 'print the plan id the jobs of a split release and its merge share',
  usage: 'eksd plan-id [--channel CH]... [--force]',
  details: 'The id `eksd build --platform P` records its images under; a merge step runs `eksd release --merge "$(eksd plan-id)"`.',
  options: PLAN_OPTIONS,
  run: async (ctx) => {
    const config = configOf(ctx);
    const { planId } = await splitPlan(config, await openStores(config), selectChannels(config, channelsOf(ctx)).filter((c) => c.active), ctx.values.force === true);
    ctx.out(planId);
    return EXIT.ok;
  },
};

async function runBuild(ctx: CommandContext): Promise<number> {
  const platform = ctx.values.platform;
  if (typeof platform !== 'string') throw new EksdError('USAGE', '--platform is required: the platform this job builds', { where: '--platform', hint: 'eksd build --platform linux/arm64' });
  const concurrency = parseInt(ctx.values.concurrency, 'concurrency');
  const channels = channelsOf(ctx);
  const reporter = consoleReporter(process.stderr, (ctx.values.events as 'auto' | 'plain' | 'json' | undefined) ?? 'auto');
  try {
    const result = await runSplit({ config: configOf(ctx), platform: platform as Platform, emit: (e) => reporter.emit(e), force: ctx.values.force === true,
      ...(channels ? { channels } : {}), ...(concurrency ? { concurrency } : {}), ...(ctx.stop ? { stop: ctx.stop } : {}) });
    reporter.close();
    ctx.out(ctx.values.json ? JSON.stringify(result, null, 2) : splitText(result));
    return EXIT.ok;
  } finally {
    reporter.close();
  }
}

function splitText(r: SplitResult): string {
  const lines = r.channels.map((c) => `  ${c.channel} (release ${c.number}): ${c.built} built, ${c.reused} reused -> ${c.units}`);
  return [`plan ${r.planId}: ${r.platform} pushed by digest`, ...lines, `merge with: eksd release --merge ${r.planId}`].join('\n');
}

function configOf(ctx: CommandContext) {
  const loaded = configFrom(ctx);
  return ctx.values['buildkit-only'] === true ? { ...loaded, build: { assemble: false } } : loaded;
}

function channelsOf(ctx: CommandContext): string[] | undefined {
  return Array.isArray(ctx.values.channel) ? ctx.values.channel as string[] : undefined;
}
