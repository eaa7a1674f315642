/**
 * The facts a decision needs, gathered before anything is built: per image and platform, the build
 * context and every input but the parents' digests; what the image's floating tag (the last release) and
 * versioned tag (an interrupted run of this release) hold; and what an interrupted run recorded.
 */
import type { Catalog } from '../../catalog/model.ts';
import { imageByName } from '../../catalog/model.ts';
import type { Platform } from '../../config/config.ts';
import { contextFiles } from '../../buildkit/context.ts';
import { ownInputs } from '../../plan/keys.ts';
import type { Plan } from '../../plan/plan.ts';
import type { RegistryClient } from '../../registry/client.ts';
import type { FetchedArtifact } from '../../resolve/artifacts.ts';
import { readTagged } from './tagged.ts';
import type { BuildRecord, ImageFacts } from './types.ts';

export interface FactsInput {
  plan: Plan;
  catalog: Catalog;
  artifacts: FetchedArtifact[];
  client: (registry: string) => RegistryClient;
  /** The build stage's record from an interrupted run of this release. */
  done?: BuildRecord;
}

export function gatherFacts(input: FactsInput): Promise<ImageFacts[]> {
  return Promise.all(input.plan.images.map(async (plan): Promise<ImageFacts> => {
    const spec = imageByName(input.catalog, plan.name);
    const client = input.client(plan.registry);
    const dockerfile = spec.dockerfile.slice(spec.contextDir.length + 1);
    const own: ImageFacts['own'] = {};
    const files: ImageFacts['files'] = {};
    const [published, tagged] = await Promise.all([
      readTagged(client, plan.repository, plan.tags.floating[0]!),
      readTagged(client, plan.repository, plan.tags.versioned),
      ...plan.platforms.map(async (platform: Platform) => {
        files[platform] = await contextFiles(spec, platform, input.artifacts);
        own[platform] = ownInputs(files[platform]!, dockerfile, spec.buildArgs, platform);
      }),
    ]);
    const done = input.done?.[plan.name];
    return { plan, own, files, ...(published ? { published } : {}), ...(tagged ? { tagged } : {}), ...(done ? { done } : {}) };
  }));
}
