/**
 * The run's timeline for the GitHub step summary: the Mermaid gantt chart (collapsed when large) and
 * the text bars as a fallback that always renders, within the room the summary has left (GitHub takes
 * at most 1 MiB per step): the text bars go first, then the chart, never beyond the limit.
 */
import { timelineBars } from './bars.ts';
import { ganttChart } from './gantt.ts';
import type { Timeline } from '../stages/timeline.ts';

/** GitHub's limit for one step's summary. */
export const STEP_SUMMARY_MAX_BYTES = 1024 * 1024;
/** Bars beyond which the chart starts collapsed. */
const OPEN_BARS = 60;

export function timelineMarkdown(t: Timeline, roomBytes = STEP_SUMMARY_MAX_BYTES): string {
  const chart = ganttChart(t);
  const open = chart.bars <= OPEN_BARS && chart.detail === 'platforms' ? ' open' : '';
  const what = `${t.stages.length} stages, ${t.builds.length} platform builds, ${(t.ms / 1000).toFixed(1)}s${chart.detail === 'platforms' ? '' : ` (drawn per ${chart.detail.replace(/s$/, '')})`}`;
  const gantt = `<details${open}><summary>Timeline: ${what}</summary>\n\n\`\`\`mermaid\n${chart.text}\`\`\`\n\n</details>\n`;
  const bars = `<details><summary>Timeline as text</summary>\n\n\`\`\`text\n${timelineBars(t).replace(/`/g, "'")}\`\`\`\n\n</details>\n`;
  const title = '\n## Run timeline\n\n';
  for (const body of [`${gantt}\n${bars}`, gantt, bars]) {
    if (Buffer.byteLength(title + body) <= roomBytes) return title + body;
  }
  return Buffer.byteLength(title) + 80 <= roomBytes ? `${title}The timeline does not fit in what is left of this step summary.\n` : '';
}
