/**
 * The timeline as a standalone SVG for the release page: a row per stage, then a row per platform build
 * grouped by image, each a bar with its label in text (no script, no external style: it renders as an
 * <img> or on its own). Builds on the critical path are outlined; the colour says the path.
 */
import { criticalBuilds } from '../stages/timeline-critical.ts';
import { seconds, type BuildSpan, type Span, type StageSpan, type Timeline } from '../stages/timeline.ts';

const LABEL = 300;
const CHART = 620;
const RIGHT = 110;
const ROW = 18;
const TOP = 68;
const COLOURS: Record<string, string> = { stage: '#6b7a90', assemble: '#2e8b57', buildkit: '#d2691e' };

export function timelineSvg(t: Timeline, title: string): string {
  const critical = criticalBuilds(t);
  const builds = [...t.builds].sort((a, b) => a.image.localeCompare(b.image) || a.platform.localeCompare(b.platform));
  const rows = [...t.stages.map((s) => stageRow(s, t)), ...builds.map((b) => buildRow(b, t, critical.has(b)))];
  const height = TOP + rows.length * ROW + 30;
  const width = LABEL + CHART + RIGHT;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="${esc(title)}">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="8" y="20" font-size="14" font-weight="bold" fill="#1b1f24">${esc(title)}</text>`,
    `<text x="8" y="36" fill="#1b1f24">${esc(`${seconds(t.ms)} in all; ${t.stages.length} stages, ${t.builds.length} platform builds on engine ${t.engine}`)}</text>`,
    legend(),
    ...axis(t, height),
    ...rows.map((r, i) => r(TOP + i * ROW)),
    `</svg>`,
    '',
  ].join('\n');
}

type Row = (y: number) => string;

function stageRow(s: StageSpan, t: Timeline): Row {
  return (y) => row(y, `stage ${s.stage}${s.state === 'unfinished' ? ' (unfinished)' : ''}`, s, t, COLOURS.stage!, false, '');
}

function buildRow(b: BuildSpan, t: Timeline, critical: boolean): Row {
  const name = `${b.image} ${b.platform}`;
  const note = `${b.via}${b.outcome === 'pushed' ? '' : `, ${b.outcome}`}${critical ? ', critical path' : ''}`;
  return (y) => row(y, name, b, t, COLOURS[b.via] ?? '#888888', critical, note);
}

function row(y: number, name: string, s: Span, t: Timeline, colour: string, critical: boolean, note: string): string {
  const x = LABEL + (CHART * s.start) / Math.max(t.ms, 1);
  const w = Math.max(1, (CHART * (s.end - s.start)) / Math.max(t.ms, 1));
  const outline = critical ? ' stroke="#c62828" stroke-width="2"' : '';
  const tip = `${name}: ${seconds(s.end - s.start)} from ${seconds(s.start)}${note ? ` (${note})` : ''}`;
  return `<g><title>${esc(tip)}</title>`
    + `<text x="8" y="${y + 13}" fill="#1b1f24">${esc(clip(name, 44))}</text>`
    + `<rect x="${x.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" fill="${colour}"${outline}/>`
    + `<text x="${LABEL + CHART + 6}" y="${y + 13}" fill="#1b1f24">${esc(`${seconds(s.end - s.start)}${note ? ` ${note.split(',')[0]}` : ''}`)}</text></g>`;
}

function legend(): string {
  const items: Array<[string, string]> = [['stage', COLOURS.stage!], ['assembled', COLOURS.assemble!], ['BuildKit', COLOURS.buildkit!]];
  const parts = items.map(([name, colour], i) => `<rect x="${8 + i * 110}" y="44" width="12" height="12" fill="${colour}"/><text x="${8 + i * 110 + 16}" y="54" fill="#1b1f24">${name}</text>`);
  parts.push(`<rect x="338" y="44" width="12" height="12" fill="none" stroke="#c62828" stroke-width="2"/><text x="354" y="54" fill="#1b1f24">critical path</text>`);
  return `<g>${parts.join('')}</g>`;
}

/** Grid lines at a round number of seconds, about eight across. */
function axis(t: Timeline, height: number): string[] {
  const step = niceStep(t.ms / 8);
  const lines: string[] = [];
  for (let ms = 0; ms <= t.ms; ms += step) {
    const x = (LABEL + (CHART * ms) / Math.max(t.ms, 1)).toFixed(1);
    lines.push(`<line x1="${x}" y1="${TOP - 4}" x2="${x}" y2="${height - 24}" stroke="#d0d7de"/>`,
      `<text x="${x}" y="${height - 10}" fill="#57606a" text-anchor="middle">${seconds(ms)}</text>`);
  }
  return lines;
}

function niceStep(ms: number): number {
  const steps = [100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000];
  return steps.find((s) => s >= ms) ?? 1_800_000;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
