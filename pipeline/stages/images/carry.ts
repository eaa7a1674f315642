/** What carrying the decisions out shares: its input, the tools the loop gives, and parents as children see them. */
import type { Builder } from '../../builders/port.ts';
import type { Catalog } from '../../catalog/model.ts';
import { UPSTREAM } from '../../catalog/model.ts';
import type { Platform } from '../../config/config.ts';
import type { Plan } from '../../plan/plan.ts';
import type { PublishLimits } from '../../publish/limits.ts';
import type { ClientFactory } from '../../registry/client.ts';
import type { ImageSource } from '../../registry/image.ts';
import type { limiter } from '../../util/limit.ts';
import type { Emit } from '../events.ts';
import type { DecideOptions, ParentView } from './decide.ts';
import type { BuildRecord, ImageDecision, ImageFacts } from './types.ts';

export type Slots = ReturnType<typeof limiter>;

export interface CarryInput {
  plan: Plan;
  catalog: Catalog;
  facts: ImageFacts[];
  decisions: ImageDecision[];
  /** The builders, in the order of preference; loaded on first use, so a run that builds nothing starts no engine. */
  builders: () => Promise<readonly Builder[]>;
  client: ClientFactory;
  options: DecideOptions;
  concurrency: number;
  /** Build slots shared with the other channels of the run (default: `concurrency` of this channel's own). */
  slots?: Slots;
  cacheDir: string;
  /** Upload pacing and mount policy of the target registry (default: none). */
  limits?: PublishLimits;
  /** Push each image's index (default); off for a split job, which pushes platform manifests by digest only. */
  indexes?: boolean;
  /** Build what is decided (default); off for a merge, which only reuses what the platform jobs made. */
  builds?: boolean;
}

export interface CarryTools {
  emit: Emit;
  checkpoint(record: BuildRecord): Promise<void>;
  /** Throws when the run was asked to stop: called before each build starts (builds under way finish and are recorded). */
  stopPoint(before: string): void;
}

export interface Carry {
  input: CarryInput;
  tools: CarryTools;
  record: BuildRecord;
  /** Build slots: only builds take one. */
  slots: Slots;
  save(): Promise<void>;
}

/**
 * A parent as a child's build sees it: where it lives, its index and per-platform manifests. A split job
 * pushes no index: its parents' `indexDigest` is '' and builders take the platform manifest instead.
 */
export interface ParentRef { view: ParentView; origin: ImageSource; indexDigest: string; reference: string }

export function upstreamRef(input: CarryInput): ParentRef {
  const u = input.plan.upstream;
  return { view: { name: UPSTREAM, platforms: Object.keys(u.platforms) as Platform[], digests: u.platforms },
    origin: { client: input.client(u.registry), repository: u.repository }, indexDigest: u.digest, reference: `${u.registry}/${u.repository}` };
}
