/**
 * The critical path through a channel's builds: the chain of builds the build stage waited on. A build
 * starts when what it waits for ends (its parent pushed, or a build slot freed), so walking back from
 * the build that ended last, each link is the build that ended latest just before this one started.
 * The stages themselves run one after another: every stage is on the run's critical path.
 */
import type { BuildSpan, Timeline } from './timeline.ts';

/** How long before a build's start the build it waited on may have ended and still be a link (scheduling). */
const LINK_GAP_MS = 500;
/** Events of one moment may arrive a little out of order. */
const SKEW_MS = 20;

/** The chain, first build first. */
export function criticalPath(builds: readonly BuildSpan[]): BuildSpan[] {
  const done = builds.filter((b) => b.outcome !== 'refused');
  let last = latestEnding(done, Infinity);
  const chain: BuildSpan[] = [];
  while (last) {
    chain.unshift(last);
    const start = last.start;
    // Each link starts strictly earlier: the walk ends.
    last = latestEnding(done.filter((b) => b.start < start && b.end <= start + SKEW_MS && b.end >= start - LINK_GAP_MS), Infinity);
  }
  return chain;
}

function latestEnding(builds: readonly BuildSpan[], notAfter: number): BuildSpan | undefined {
  return builds.filter((b) => b.end <= notAfter).reduce<BuildSpan | undefined>((best, b) => (!best || b.end > best.end ? b : best), undefined);
}

/** Every channel's chain, as one set (for marking bars). */
export function criticalBuilds(t: Timeline): Set<BuildSpan> {
  const channels = [...new Set(t.builds.map((b) => b.channel))];
  return new Set(channels.flatMap((c) => criticalPath(t.builds.filter((b) => b.channel === c))));
}

/** Where build time went, per path: how many builds and their summed time. */
export function timeByPath(builds: readonly BuildSpan[]): Array<{ via: string; builds: number; ms: number }> {
  const by = new Map<string, { via: string; builds: number; ms: number }>();
  for (const b of builds) {
    const entry = by.get(b.via) ?? { via: b.via, builds: 0, ms: 0 };
    entry.builds += 1;
    entry.ms += b.end - b.start;
    by.set(b.via, entry);
  }
  return [...by.values()].sort((a, b) => b.ms - a.ms);
}
