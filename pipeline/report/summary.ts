/**
 * The end-of-run summary: one row per image, then the release, verification and announcement. The copy
 * for the GitHub step summary is written only from checked values (util/github.ts).
 */
import { existsSync, statSync } from 'node:fs';
import type { RunResult } from '../app/runner.ts';
import { appendStepSummary, checkedDigest, singleLine } from '../util/github.ts';
import { markdownTable, textTable } from './table.ts';
import type { Timeline } from '../stages/timeline.ts';
import { STEP_SUMMARY_MAX_BYTES, timelineMarkdown } from './timeline-summary.ts';

const HEADERS = ['IMAGE', 'PLATFORMS', 'INDEX DIGEST', 'TAGS', 'ACTION', 'TIME'];

function rows(result: RunResult): string[][] {
  return result.images.map((i) => {
    const platforms = Object.entries(i.platforms);
    const built = platforms.filter(([, p]) => p!.built).map(([k]) => k.split('/')[1]).sort();
    const action = built.length ? `built ${built.join('+')}` : 'reused';
    const ms = Math.max(0, ...platforms.map(([, p]) => p!.ms ?? 0));
    return [i.plan.name, i.plan.platforms.map((p) => p.split('/')[1]).join(','), i.index.digest.slice(0, 19),
      [i.plan.tags.versioned, ...i.plan.tags.floating].join(' '), action, `${(ms / 1000).toFixed(1)}s`];
  });
}

function footer(result: RunResult): string[] {
  const lines = [`${result.images.length} images, ${result.images.filter((i) => Object.values(i.platforms).some((p) => p!.built)).length} rebuilt, ${result.images.filter((i) => i.changed).length} changed since the last publish, in ${(result.ms / 1000).toFixed(1)}s`];
  const r = result.release;
  if (r) {
    lines.push(`release   ${r.name}: ${r.manifestPath}${r.written ? '' : ' (already written)'}`);
    if (r.verify) lines.push(`verify    passed: ${r.verify.images} images, ${r.verify.manifests} manifests, ${r.verify.blobs} blobs, ${r.verify.archives} archives`);
    if (r.announcement) lines.push(`announce  ${r.announcement.skipped ? 'already sent' : 'sent'} via ${r.announcement.via} (message ${r.announcement.messageId})`);
    if (r.timeline) lines.push(`timeline  ${r.timeline}`);
  }
  return lines;
}

export function summaryText(result: RunResult): string {
  return `${textTable(HEADERS, rows(result))}\n\n${footer(result).join('\n')}`;
}

/** Appends the summary to $GITHUB_STEP_SUMMARY when a GitHub Actions run provides it. */
export function writeStepSummary(result: RunResult, file = process.env.GITHUB_STEP_SUMMARY): void {
  if (!file) return;
  for (const i of result.images) checkedDigest(i.index.digest, `step summary: index digest of ${i.plan.name}`);
  const cells = rows(result).map((r) => r.map((c, n) => singleLine(c, `step summary: ${HEADERS[n]} of ${r[0]}`)));
  const lines = footer(result).map((l) => singleLine(l, 'step summary line'));
  const title = singleLine(result.release ? `## ${result.release.name}` : `## eksd release ${result.plan.release}`, 'step summary title');
  appendStepSummary(`${title}\n\n${markdownTable(HEADERS, cells)}\n\n${lines.map((l) => `- ${l}`).join('\n')}\n`, file);
}

/** Appends the run's timeline (a Mermaid gantt chart and text bars) within what the step summary has room for. */
export function writeTimelineSummary(t: Timeline, file = process.env.GITHUB_STEP_SUMMARY): void {
  if (!file || t.stages.length === 0) return;
  const used = existsSync(file) ? statSync(file).size : 0;
  appendStepSummary(timelineMarkdown(t, STEP_SUMMARY_MAX_BYTES - used), file);
}
