/**
 * Decide, per image and platform, what a release does: reuse a platform image already pushed, or build
 * it, and why. Pure: the facts (what the registry and an interrupted run hold) are gathered before, and
 * schedule.ts carries the decisions out. A platform whose parent is rebuilt in this run cannot know its
 * build key yet: it is decided "build" with the reason, and decided again once the parent is pushed.
 * A build goes to the first builder that accepts the recipe and is not off (builders/select.ts); what the
 * builder adds to the build key is part of it, so switching paths rebuilds.
 */
import { bug, EksdError } from '../../errors.ts';
import type { Platform } from '../../config/config.ts';
import { UPSTREAM } from '../../catalog/model.ts';
import { selectBuilder } from '../../builders/select.ts';
import { buildKey, explainChange, onPath, withParents, type KnownInputs } from '../../image/keys.ts';
import type { Plan } from '../../plan/plan.ts';
import { sharedFor } from './shared.ts';
import type { Decision, ImageDecision, ImageFacts, SharedBuilds } from './types.ts';

export interface DecideOptions {
  /** Rebuild what the last release has (never what this release already tagged). */
  force: boolean;
  /** The channel being decided, and the build keys other channels of this run already have. */
  channel?: string;
  shared?: SharedBuilds;
  /** Builders not to use, by name, with why (`assemble` off by a setting; one that refused on the parent). */
  off?: Readonly<Record<string, string>>;
}

/** A parent as a child sees it: its platforms, and the digest of each one that is known (reused or pushed). */
export interface ParentView { name: string; platforms: readonly Platform[]; digests: Partial<Record<Platform, string>> }

export const REASON = {
  tagged: 'pushed by an interrupted run of this release',
  unchanged: 'unchanged',
  forced: 'forced rebuild',
  assemblerOff: 'the assembler is off (--buildkit-only, build.assemble: false or EKSD_ASSEMBLE=0)',
} as const;

/** Every image of the plan, parents first: what each platform will be, as far as it can be known before building. */
export function decideAll(plan: Plan, facts: ImageFacts[], o: DecideOptions): ImageDecision[] {
  const views = new Map<string, ParentView>([[UPSTREAM, { name: UPSTREAM, platforms: Object.keys(plan.upstream.platforms) as Platform[], digests: plan.upstream.platforms }]]);
  return facts.map((f) => {
    const decision = decideImage(f, parentsOf(f, views), o);
    views.set(f.plan.name, viewOf(decision));
    return decision;
  });
}

export function decideImage(f: ImageFacts, parents: { from: ParentView; builder?: ParentView }, o: DecideOptions,
  missing: ReadonlySet<string> = new Set()): ImageDecision {
  const platforms: ImageDecision['platforms'] = {};
  for (const platform of f.plan.platforms) platforms[platform] = decidePlatform(f, platform, parents, o, missing);
  return { plan: f.plan, platforms };
}

/** The reused or pushed platform digests of a decided (or executed) image, as its children see them. */
export function viewOf(d: ImageDecision): ParentView {
  const digests: ParentView['digests'] = {};
  for (const [platform, decision] of Object.entries(d.platforms) as Array<[Platform, Decision]>) {
    if (decision.action === 'reuse') digests[platform] = decision.manifest.digest;
  }
  return { name: d.plan.name, platforms: d.plan.platforms, digests };
}

function parentsOf(f: ImageFacts, views: Map<string, ParentView>): { from: ParentView; builder?: ParentView } {
  const view = (name: string) => views.get(name) ?? bug(`${f.plan.name} is decided before its parent ${name}`);
  return { from: view(f.plan.from), ...(f.plan.builder ? { builder: view(f.plan.builder) } : {}) };
}

function decidePlatform(f: ImageFacts, platform: Platform, parents: { from: ParentView; builder?: ParentView },
  o: DecideOptions, missing: ReadonlySet<string>): Decision {
  const { key: pathKey, ...path } = selectBuilder(f.answers[platform] ?? bug(`no builder answers for ${f.plan.name} ${platform}`), o.off);
  const own = onPath(f.own[platform] ?? bug(`no build context facts for ${f.plan.name} ${platform}`), pathKey);
  const names = { from: f.plan.from, ...(f.plan.builder ? { builder: f.plan.builder } : {}) };
  const from = parentDigest(parents.from, platform, f);
  const builder = parents.builder ? parentDigest(parents.builder, platform, f) : undefined;
  const published = f.published?.platforms[platform];
  const waitsFor = [from === undefined ? parents.from.name : undefined, parents.builder && builder === undefined ? parents.builder.name : undefined]
    .filter((n): n is string => n !== undefined);
  if (waitsFor.length > 0) {
    const known: KnownInputs = { ...own, ...(from ? { from } : {}), ...(builder ? { builder } : {}) };
    return { action: 'build', reason: o.force ? REASON.forced : explainChange(published?.inputs, known, names), waitsFor, ...path };
  }
  const inputs = withParents(own, from!, builder);
  const key = buildKey(inputs);
  const done = f.done?.platforms[platform];
  const tagged = f.tagged?.platforms[platform];
  const usable = (digest: string) => !missing.has(digest);
  // This release's versioned tag is immutable: what it holds is this release's image, even with --force.
  if (done?.key !== key && tagged?.key === key) return { action: 'reuse', source: 'tagged', key, inputs, manifest: tagged.manifest, built: false, reason: REASON.tagged };
  if (done?.key === key && usable(done.manifest.digest)) return { action: 'reuse', source: 'run', key, inputs, manifest: done.manifest, built: done.built, reason: done.reason };
  if (!o.force && published?.key === key && usable(published.manifest.digest)) {
    return { action: 'reuse', source: 'published', key, inputs, manifest: published.manifest, built: false, reason: REASON.unchanged };
  }
  const other = sharedFor(o.shared, key, o.channel);
  if (other) {
    if (other.manifest && usable(other.manifest.digest)) {
      return { action: 'reuse', source: 'shared', key, inputs, manifest: other.manifest, built: false, reason: `same build as channel ${other.channel}` };
    }
    if (!other.manifest) return { action: 'build', key, inputs, reason: `built once, for channel ${other.channel} and this one`, sharedWith: other.channel, ...path };
  }
  const reason = o.force ? REASON.forced : published?.key === key ? `${published.manifest.digest} is no longer in the registry` : explainChange(published?.inputs, inputs, names);
  return { action: 'build', key, inputs, reason, ...path };
}

/** The parent's digest for the platform; undefined when the parent is rebuilt in this run and not pushed yet. */
function parentDigest(parent: ParentView, platform: Platform, f: ImageFacts): string | undefined {
  if (!parent.platforms.includes(platform)) {
    throw new EksdError('PARENT_PLATFORM_MISSING', `${f.plan.name} needs ${parent.name} for ${platform}, which has none`, {
      where: parent.name === UPSTREAM ? f.plan.from : parent.name,
      hint: parent.name === UPSTREAM ? 'run `eksd watch-base --write` so the pin records every platform' : `build ${parent.name} for ${platform}`,
    });
  }
  return parent.digests[platform];
}
