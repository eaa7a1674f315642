/**
 * Renders a plan with its decisions: per image and platform, build or reuse and why, and for a build the
 * path it takes (`via`: the builder, e.g. the assembler, or BuildKit with the reason the one before it passed).
 */
import type { RunResult } from '../app/runner.ts';
import type { Decision } from '../stages/images/types.ts';
import { textTable } from './table.ts';

export interface PlanRow {
  /** shared: built once in this run, for an earlier channel and this one. */
  image: string; platform: string; action: 'build' | 'reuse' | 'shared'; reason: string;
  /** How a build is made: "assemble" or "buildkit"; null for a reuse. */
  via: string | null;
  /** Why that path: "COPY-only recipe", or what sends the recipe to BuildKit ("RUN at Dockerfile:4"). */
  viaReason: string | null;
  /** The engine that builds it (a socket or tcp:// address); null for a reuse or a builder with no engine. */
  engine: string | null;
  /** The parent and its digest, or "(rebuilt first)" when the parent is built in this run. */
  from: string;
  /** The build key; null while a parent is still to be built (it depends on the parent's new digest). */
  key: string | null;
  pushTo: string; tags: string[];
}

export function planRows(result: RunResult): PlanRow[] {
  return (result.decisions ?? []).flatMap((d) => d.plan.platforms.map((platform): PlanRow => {
    const p = d.platforms[platform]!;
    return {
      image: d.plan.name, platform, action: p.action === 'build' && p.sharedWith ? 'shared' : p.action, reason: shownReason(p),
      via: p.action === 'build' ? p.via : null, viaReason: p.action === 'build' ? p.viaReason : null,
      engine: p.action === 'build' ? p.engine ?? null : null,
      from: p.inputs ? `${d.plan.from}@${p.inputs.from.slice(0, 19)}` : `${d.plan.from} (rebuilt first)`, key: p.key ?? null,
      pushTo: `${d.plan.registry}/${d.plan.repository}`, tags: [d.plan.tags.versioned, ...d.plan.tags.floating],
    };
  }));
}

/** A platform an interrupted run of this release built is, for what is left to do, reused. */
function shownReason(d: Decision): string {
  return d.action === 'reuse' && d.source === 'run' && d.built ? 'built by the interrupted run of this release' : d.reason;
}

export function planText(result: RunResult): string {
  const rows = planRows(result);
  const table = textTable(['IMAGE', 'PLATFORM', 'ACTION', 'WHY', 'VIA', 'ENGINE', 'FROM', 'PUSH TO', 'TAGS'],
    rows.map((r) => [r.image, r.platform, r.action, r.reason, shownVia(r), r.engine ?? '-', r.from, r.pushTo, r.tags.join(' ')]));
  const builds = rows.filter((r) => r.action === 'build').length;
  const assembled = rows.filter((r) => r.action === 'build' && r.via === 'assemble').length;
  return `${result.plan.release} (channel ${result.plan.channel}), upstream ${result.plan.upstream.reference}@${result.plan.upstream.digest.slice(0, 19)}\n\n${table}\n\n`
    + `${builds} of ${rows.length} image builds needed, ${rows.length - builds} reused or shared. ${assembled} assembled, ${builds - assembled} through BuildKit.`;
}

function shownVia(r: PlanRow): string {
  if (r.via === null) return '-';
  return r.via === 'assemble' ? 'assemble' : `buildkit (${r.viaReason ?? ''})`;
}
