/**
 * The timeline as a Mermaid gantt chart, for the GitHub step summary (GitHub renders ```mermaid blocks).
 * A section per channel's stages, then its builds: one bar per platform build, grouped per image. A run
 * too large for Mermaid's text limit (maxTextSize, 50,000 characters) is drawn coarser, never cut: a bar
 * per image, then a bar per channel's builds, then the stages alone. Times are milliseconds since the
 * run started (dateFormat x), so sub-second stages keep their length.
 */
import { criticalBuilds } from '../stages/timeline-critical.ts';
import { seconds, type BuildSpan, type Span, type StageSpan, type Timeline } from '../stages/timeline.ts';

/** Mermaid's default maxTextSize. */
export const MERMAID_MAX_TEXT = 50_000;

export type GanttDetail = 'platforms' | 'images' | 'channels' | 'stages';

const DETAILS: GanttDetail[] = ['platforms', 'images', 'channels', 'stages'];

/** The finest chart within `limit` characters, and how fine it is. */
export function ganttChart(t: Timeline, limit = MERMAID_MAX_TEXT): { text: string; detail: GanttDetail; bars: number } {
  for (const detail of DETAILS) {
    const chart = chartAt(t, detail);
    if (chart.text.length <= limit || detail === 'stages') return { ...chart, detail };
  }
  throw new Error('unreachable');
}

function chartAt(t: Timeline, detail: GanttDetail): { text: string; bars: number } {
  const critical = criticalBuilds(t);
  const lines = ['gantt', `  title eksd release, ${seconds(t.ms)} (engine ${label(t.engine)})`, '  dateFormat x', '  axisFormat %M:%S'];
  let bars = 0;
  for (const channel of channelsOf(t)) {
    const stages = t.stages.filter((s) => s.channel === channel);
    lines.push(`  section ${label(channel ? `${channel} stages` : 'stages')}`, ...stages.map(stageBar));
    bars += stages.length;
    const builds = buildLines(t.builds.filter((b) => b.channel === channel), detail, critical, channel);
    lines.push(...builds.lines);
    bars += builds.bars;
  }
  return { text: `${lines.join('\n')}\n`, bars };
}

function channelsOf(t: Timeline): string[] {
  return [...new Set([...t.stages.map((s) => s.channel), ...t.builds.map((b) => b.channel)])];
}

function buildLines(builds: BuildSpan[], detail: GanttDetail, critical: Set<BuildSpan>, channel: string): { lines: string[]; bars: number } {
  if (builds.length === 0 || detail === 'stages') return { lines: [], bars: 0 };
  const prefix = channel ? `${channel} ` : '';
  if (detail === 'channels') return { lines: [`  section ${label(`${prefix}builds`)}`, bar(`${builds.length} platform builds`, cover(builds), [])], bars: 1 };
  const images = groupBy(builds, (b) => b.image);
  if (detail === 'images') {
    const lines = [`  section ${label(`${prefix}builds`)}`, ...[...images].map(([image, bs]) => bar(`${image} (${bs.length})`, cover(bs), bs.some((b) => critical.has(b)) ? ['crit'] : []))];
    return { lines, bars: images.size };
  }
  const lines = [...images].flatMap(([image, bs]) => [`  section ${label(`${prefix}${image}`)}`, ...bs.map((b) => buildBar(b, critical.has(b)))]);
  return { lines, bars: builds.length };
}

function stageBar(s: StageSpan): string {
  return bar(s.state === 'unfinished' ? `${s.stage} (unfinished)` : s.stage, s, []);
}

function buildBar(b: BuildSpan, critical: boolean): string {
  const tags = [...(critical ? ['crit'] : []), ...(b.via === 'buildkit' ? ['active'] : ['done'])];
  return bar(`${b.platform} ${b.via}${b.outcome === 'pushed' ? '' : ` ${b.outcome}`}`, b, tags);
}

/** A task; an empty span is drawn 1 ms long (Mermaid draws nothing for it otherwise). */
function bar(name: string, s: Span, tags: string[]): string {
  const start = Math.round(s.start);
  return `    ${label(name)} :${tags.map((t) => `${t}, `).join('')}${start}, ${Math.max(start + 1, Math.round(s.end))}`;
}

function cover(spans: readonly Span[]): Span {
  return { start: Math.min(...spans.map((s) => s.start)), end: Math.max(...spans.map((s) => s.end)) };
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) map.set(key(item), [...(map.get(key(item)) ?? []), item]);
  return map;
}

/** Task and section names: no ':' ';' '#' or '%' (Mermaid's separators and comments), one line. */
function label(text: string): string {
  return text.replace(/[^A-Za-z0-9 ._/()+,@=-]/g, ' ').replace(/,/g, ' ').replace(/\s+/g, ' ').trim() || '-';
}
