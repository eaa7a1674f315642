/** Renders a plan with its decisions: per image and platform, build or reuse and why. */
import type { RunResult } from '../run/runner.ts';
import { textTable } from './table.ts';

export interface PlanRow { image: string; platform: string; action: 'build' | 'reuse' | 'build (parent rebuilt)'; reason: string; from: string; key: string; pushTo: string; tags: string[] }

export function planRows(result: RunResult): PlanRow[] {
  return (result.decisions ?? []).flatMap((d) => d.plan.platforms.map((platform) => {
    const p = d.platforms[platform]!;
    return {
      image: d.plan.name, platform, action: p.built ? 'build' : 'reuse', reason: p.reason,
      from: `${d.plan.from}@${p.inputs.from.slice(0, 19)}`, key: p.key,
      pushTo: `${d.plan.registry}/${d.plan.repository}`, tags: [d.plan.tags.versioned, ...d.plan.tags.floating],
    } satisfies PlanRow;
  }));
}

export function planText(result: RunResult): string {
  const rows = planRows(result);
  const table = textTable(['IMAGE', 'PLATFORM', 'ACTION', 'WHY', 'FROM', 'PUSH TO', 'TAGS'],
    rows.map((r) => [r.image, r.platform, r.action, r.reason, r.from, r.pushTo, r.tags.join(' ')]));
  const builds = rows.filter((r) => r.action !== 'reuse').length;
  return `${result.plan.release} (channel ${result.plan.channel}), upstream ${result.plan.upstream.reference}@${result.plan.upstream.digest.slice(0, 19)}\n\n${table}\n\n${builds} of ${rows.length} image builds needed, ${rows.length - builds} reused.`;
}
