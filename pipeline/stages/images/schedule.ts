/**
 * Carries the decisions out: every image in dependency order, independent images in parallel, each
 * platform through platform.ts (reused if served, else built on its builder and pushed by digest), then
 * the image index (index-manifest.ts; none in a split job, which leaves the indexes to the merge). An image whose parent is rebuilt in this run is decided again
 * (decide.ts) once the parent is pushed. Tags are not touched here. Progress is checkpointed after every
 * platform and index, so a resumed run gets it back as `done`.
 */
import { imageByName, UPSTREAM } from '../../catalog/model.ts';
import { limiter } from '../../util/limit.ts';
import { upstreamRef, type Carry, type CarryInput, type CarryTools, type ParentRef } from './carry.ts';
import { decideImage, viewOf } from './decide.ts';
import { pushImageIndex } from './index-manifest.ts';
import { executePlatform } from './platform.ts';
import type { BuildRecord, Decision, ImageDecision, ImageFacts, PlatformRecord } from './types.ts';

export async function execute(input: CarryInput, tools: CarryTools): Promise<BuildRecord> {
  const record: BuildRecord = {};
  for (const f of input.facts) if (f.done) record[f.plan.name] = structuredClone(f.done);
  const c: Carry = { input, tools, record, slots: input.slots ?? limiter(Math.max(1, input.concurrency)), save: () => tools.checkpoint(record) };
  const done = new Map<string, Promise<ParentRef>>([[UPSTREAM, Promise.resolve(upstreamRef(input))]]);
  input.facts.forEach((f, i) => {
    const parents = Promise.all([done.get(f.plan.from)!, f.plan.builder ? done.get(f.plan.builder)! : undefined]);
    done.set(f.plan.name, parents.then(([from, builder]) => executeImage(c, f, input.decisions[i]!, from, builder)));
  });
  await allOrFirstFailure([...done.values()]);
  return record;
}

async function executeImage(c: Carry, f: ImageFacts, decided: ImageDecision, from: ParentRef, builder: ParentRef | undefined): Promise<ParentRef> {
  const { input } = c;
  const parents = { from: from.view, ...(builder ? { builder: builder.view } : {}) };
  const waiting = Object.values(decided.platforms).some((d) => d!.action === 'build' && d!.key === undefined);
  const decision = waiting ? decideImage(f, parents, input.options) : decided;
  const spec = imageByName(input.catalog, f.plan.name);
  const image = (c.record[f.plan.name] ??= { platforms: {} });
  await allOrFirstFailure(f.plan.platforms.map(async (platform) => {
    image.platforms[platform] = await executePlatform(c, { f, spec, platform, decision: decision.platforms[platform]!, parents, from, builder });
  }));
  const index = input.indexes === false ? undefined : await pushImageIndex(c, f, spec, image, from);
  const view = viewOf({ plan: f.plan, platforms: Object.fromEntries(Object.entries(image.platforms).map(([p, r]) => [p, reuse(r!)])) });
  return { view, origin: { client: input.client(f.plan.registry), repository: f.plan.repository }, indexDigest: index?.digest ?? '', reference: `${f.plan.registry}/${f.plan.repository}` };
}

/** Waits for all, so one failure (or a stop) does not leave other builds running unobserved; throws the first. */
async function allOrFirstFailure(work: Array<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
}

function reuse(r: PlatformRecord): Decision {
  return { action: 'reuse', source: 'run', key: r.key, inputs: r.inputs, manifest: r.manifest, built: r.built, reason: r.reason };
}
