/**
 * The images stage, in two steps the loop runs apart (a dry run stops between them): decide, per image
 * and platform, what to reuse and what to build and on which builder; then build, carrying the decisions
 * out. Both read the same settings, given once.
 */
import type { Builder } from '../../builders/port.ts';
import type { Catalog } from '../../catalog/model.ts';
import type { Plan } from '../../plan/plan.ts';
import type { PublishLimits } from '../../publish/limits.ts';
import type { ClientFactory } from '../../registry/client.ts';
import type { FetchedArtifact } from '../../resolve/artifacts.ts';
import type { StageTools } from '../stage.ts';
import { decideAll, REASON, type DecideOptions } from './decide.ts';
import { gatherFacts } from './facts.ts';
import type { Slots } from './carry.ts';
import { inTurn, type Turn } from '../../util/turn-order.ts';
import { execute } from './schedule.ts';
import { shareDecisions } from './shared.ts';
import type { BuildRecord, ImageDecision, ImageFacts, SharedBuilds } from './types.ts';

export interface ImagesSettings {
  channel: string;
  /** Rebuild what the last release has. */
  force: boolean;
  /** The assembler is on (build.assemble; off: every image through BuildKit). */
  assemble: boolean;
  /** Build keys of this run, across channels: each is built once. */
  shared: SharedBuilds;
  builders: () => Promise<readonly Builder[]>;
  client: ClientFactory;
  concurrency: number;
  /** Build slots shared by the channels of the run. */
  slots?: Slots;
  cacheDir: string;
  limits: PublishLimits;
  /**
   * Channels of a run decide one after the other, in catalog order (their facts are read at once): a
   * channel then sees every build key the channels before it reuse or build.
   */
  decideTurn?: Turn;
  /** A split job pushes no index; a merge builds nothing. */
  indexes?: boolean;
  builds?: boolean;
}

export interface Decided { facts: ImageFacts[]; decisions: ImageDecision[] }

export async function decideImages(input: { plan: Plan; catalog: Catalog; artifacts: FetchedArtifact[]; done?: BuildRecord }, s: ImagesSettings): Promise<Decided> {
  const facts = await gatherFacts({ ...input, client: s.client, builders: await s.builders() });
  return inTurn(s.decideTurn, async () => {
    const decisions = decideAll(input.plan, facts, options(s));
    shareDecisions(s.shared, s.channel, decisions);
    return { facts, decisions };
  });
}

export function buildImages(input: { plan: Plan; catalog: Catalog } & Decided, s: ImagesSettings, tools: StageTools<BuildRecord>): Promise<BuildRecord> {
  return execute({ ...input, builders: s.builders, client: s.client, options: options(s), concurrency: s.concurrency, ...(s.slots ? { slots: s.slots } : {}), cacheDir: s.cacheDir, limits: s.limits,
    ...(s.indexes === false ? { indexes: false } : {}), ...(s.builds === false ? { builds: false } : {}) }, tools);
}

function options(s: ImagesSettings): DecideOptions {
  return { force: s.force, channel: s.channel, shared: s.shared, ...(s.assemble ? {} : { off: { assemble: REASON.assemblerOff } }) };
}
