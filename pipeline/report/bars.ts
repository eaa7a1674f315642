/**
 * The timeline as text bars, for plain CI logs (CodeBuild) and as the step summary's fallback: every line
 * within a fixed width. Per channel its stages ('#' on the run's critical path: the stages run one after
 * another), short stages folded into one line; then where build time went (per path), the chain of
 * builds the build stage waited on, and the longest builds.
 */
import { criticalPath, timeByPath } from '../stages/timeline-critical.ts';
import { seconds, type BuildSpan, type Span, type Timeline } from '../stages/timeline.ts';

export const BARS_WIDTH = 100;
const NAME = 44;
const TIME = 7;
const PERCENT = 5;
/** name, time, ' |', bar, '|', percent */
const BAR = BARS_WIDTH - NAME - 1 - TIME - 2 - 1 - PERCENT;
const LONGEST = 5;
const CHAIN = 8;

export function timelineBars(t: Timeline): string {
  const scale = Math.max(t.ms, 1) / BAR;
  const lines = [`run timeline: ${seconds(t.ms)}; # critical path, = other work; 1 column = ${seconds(scale)}; engine ${t.engine}`];
  for (const channel of channelsOf(t)) lines.push(...channelLines(t, channel));
  return `${lines.map((l) => fit(l)).join('\n')}\n`;
}

function channelLines(t: Timeline, channel: string): string[] {
  const span = t.channels.find((c) => c.channel === channel);
  const head = span ? row(`${channel} ${span.outcome ?? ''} ${span.release ?? ''}`, span, t, '#') : undefined;
  const stages = t.stages.filter((s) => s.channel === channel);
  const short = stages.filter((s) => !significant(s, t));
  const lines = [...(head ? [head] : []), ...stages.filter((s) => significant(s, t)).map((s) => row(`  ${s.stage}${s.state === 'unfinished' ? ' (unfinished)' : ''}`, s, t, '#'))];
  if (short.length) lines.push(`  +${short.length} short stages, ${seconds(short.reduce((n, s) => n + s.end - s.start, 0))} (${short.map((s) => s.stage).join(', ')})`);
  return [...lines, ...buildLines(t, t.builds.filter((b) => b.channel === channel), t.reused[channel] ?? 0)];
}

function buildLines(t: Timeline, builds: BuildSpan[], reused: number): string[] {
  if (builds.length === 0) return reused ? [`  builds: none; ${reused} platform images reused`] : [];
  const paths = timeByPath(builds).map((p) => `${p.builds} ${p.via} ${seconds(p.ms)}`).join(', ');
  const chain = criticalPath(builds);
  const lines = [`  builds: ${builds.length} (${paths} of build time); ${reused} reused`,
    `  critical path through the builds: ${chain.length} build(s), ${seconds(chainMs(chain))}`];
  lines.push(...chain.slice(-CHAIN).map((b) => row(`    ${buildName(b)}`, b, t, '#')));
  if (chain.length > CHAIN) lines.push(`    (${chain.length - CHAIN} earlier link(s) not shown)`);
  const longest = [...builds].filter((b) => !chain.includes(b)).sort((a, b) => (b.end - b.start) - (a.end - a.start)).slice(0, LONGEST);
  if (longest.length) lines.push('  longest other builds:', ...longest.map((b) => row(`    ${buildName(b)}`, b, t, '=')));
  return lines;
}

function buildName(b: BuildSpan): string {
  return `${b.image} ${b.platform.replace('linux/', '')} ${b.via}${b.outcome === 'pushed' ? '' : ` ${b.outcome}`}`;
}

function chainMs(chain: BuildSpan[]): number {
  return chain.length ? chain.at(-1)!.end - chain[0]!.start : 0;
}

/** A stage worth its own line: 1% of the run or more. */
function significant(s: Span, t: Timeline): boolean {
  return s.end - s.start >= Math.max(t.ms / 100, 1);
}

function row(name: string, s: Span, t: Timeline, mark: string): string {
  const ms = s.end - s.start;
  const percent = t.ms > 0 ? `${Math.round((100 * ms) / t.ms)}%` : '';
  return `${fit(name, NAME).padEnd(NAME)} ${seconds(ms).padStart(TIME)} |${bar(s, t, mark)}|${percent.padStart(PERCENT)}`;
}

function bar(s: Span, t: Timeline, mark: string): string {
  const scale = Math.max(t.ms, 1) / BAR;
  const from = Math.min(BAR - 1, Math.floor(s.start / scale));
  const to = Math.min(BAR, Math.max(from + 1, Math.round(s.end / scale)));
  return ' '.repeat(from) + mark.repeat(to - from) + ' '.repeat(BAR - to);
}

function channelsOf(t: Timeline): string[] {
  return [...new Set([...t.channels.map((c) => c.channel), ...t.stages.map((s) => s.channel)])];
}

function fit(text: string, width = BARS_WIDTH): string {
  return text.length <= width ? text : `${text.slice(0, width - 3)}...`;
}
