/**
 * The facts a decision needs, gathered before anything is built: per image and platform, the build
 * context and every input but the parents' digests; what the image's floating tag (the last release) and
 * versioned tag (an interrupted run of this release) hold; what an interrupted run recorded; and per
 * platform every builder's answer for the recipe. Builders answer without the parent (it may be rebuilt in
 * this run); one may still refuse once it sees the parent, and the platform is then decided again.
 */
import { readFile } from 'node:fs/promises';
import type { Catalog } from '../../catalog/model.ts';
import { imageByName } from '../../catalog/model.ts';
import type { Platform } from '../../config/config.ts';
import type { Builder } from '../../builders/port.ts';
import { answers } from '../../builders/select.ts';
import { ownInputs } from '../../image/keys.ts';
import { DEFAULT_SOURCE_DATE_EPOCH } from '../../image/source-date.ts';
import type { Plan } from '../../plan/plan.ts';
import type { ClientFactory } from '../../registry/client.ts';
import type { FetchedArtifact } from '../../resolve/artifacts.ts';
import { contextFiles } from './context.ts';
import { readTagged } from './tagged.ts';
import type { BuildRecord, ImageFacts } from './types.ts';

export interface FactsInput {
  plan: Plan;
  catalog: Catalog;
  artifacts: FetchedArtifact[];
  client: ClientFactory;
  /** The builders, in the order of preference. */
  builders: readonly Builder[];
  /** The build stage's record from an interrupted run of this release. */
  done?: BuildRecord;
}

export function gatherFacts(input: FactsInput): Promise<ImageFacts[]> {
  return Promise.all(input.plan.images.map(async (plan): Promise<ImageFacts> => {
    const spec = imageByName(input.catalog, plan.name);
    const client = input.client(plan.registry);
    const file = spec.dockerfile.slice(spec.contextDir.length + 1);
    const f: Pick<ImageFacts, 'own' | 'files' | 'views' | 'answers'> = { own: {}, files: {}, views: {}, answers: {} };
    // One fixed SOURCE_DATE_EPOCH for every image (image/source-date.ts), the one place to read a commit time from once the catalog has it.
    const epoch = DEFAULT_SOURCE_DATE_EPOCH;
    const [published, tagged] = await Promise.all([
      readTagged(client, plan.repository, plan.tags.floating[0]!),
      readTagged(client, plan.repository, plan.tags.versioned),
      readFile(spec.dockerfile, 'utf8').then((dockerfile) => {
        for (const platform of plan.platforms) {
          const view = { image: plan.name, platform, dockerfile, file, buildArgs: spec.buildArgs, hasBuilder: Boolean(spec.builder), epoch };
          f.views[platform] = view;
          f.answers[platform] = answers(input.builders, view);
        }
      }),
      ...plan.platforms.map(async (platform: Platform) => {
        f.files[platform] = await contextFiles(spec, platform, input.artifacts);
        f.own[platform] = ownInputs(f.files[platform]!, file, spec.buildArgs, platform);
      }),
    ]);
    const done = input.done?.[plan.name];
    return { plan, ...f, ...(published ? { published } : {}), ...(tagged ? { tagged } : {}), ...(done ? { done } : {}) };
  }));
}
