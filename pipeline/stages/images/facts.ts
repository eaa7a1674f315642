/**
 * The facts a decision needs, gathered before anything is built: per image and platform, the build
 * context and every input but the parents' digests; what the image's floating tag (the last release) and
 * versioned tag (an interrupted run of this release) hold; what an interrupted run recorded; and per
 * platform whether the assembler can carry the recipe out. Qualification runs without the parent's config
 * (the parent may be rebuilt in this run): a word that reads a variable the recipe does not set sends the
 * image to BuildKit, and execute.ts qualifies the recipe again on the parent's config before assembling.
 */
import { readFile } from 'node:fs/promises';
import type { Catalog } from '../../catalog/model.ts';
import { imageByName } from '../../catalog/model.ts';
import type { Platform } from '../../config/config.ts';
import { contextFiles } from '../../build/buildkit/context.ts';
import { ownInputs } from '../../image/keys.ts';
import type { Plan } from '../../plan/plan.ts';
import type { ClientFactory } from '../../registry/client.ts';
import type { FetchedArtifact } from '../../resolve/artifacts.ts';
import { qualifySpec } from '../../build/assembler/builder.ts';
import { readTagged } from './tagged.ts';
import { DEFAULT_SOURCE_DATE_EPOCH } from '../../image/source-date.ts';
import type { BuildRecord, ImageFacts } from './types.ts';

export interface FactsInput {
  plan: Plan;
  catalog: Catalog;
  artifacts: FetchedArtifact[];
  client: ClientFactory;
  /** The build stage's record from an interrupted run of this release. */
  done?: BuildRecord;
  /** The engine's BuildKit (buildkit-version.ts engineBuildKitOf): the assembler makes only the images of some. */
  buildkit?: string;
}

export function gatherFacts(input: FactsInput): Promise<ImageFacts[]> {
  return Promise.all(input.plan.images.map(async (plan): Promise<ImageFacts> => {
    const spec = imageByName(input.catalog, plan.name);
    const client = input.client(plan.registry);
    const dockerfile = spec.dockerfile.slice(spec.contextDir.length + 1);
    const own: ImageFacts['own'] = {};
    const files: ImageFacts['files'] = {};
    const qualified: ImageFacts['qualified'] = {};
    const epoch = DEFAULT_SOURCE_DATE_EPOCH;
    const [published, tagged] = await Promise.all([
      readTagged(client, plan.repository, plan.tags.floating[0]!),
      readTagged(client, plan.repository, plan.tags.versioned),
      readFile(spec.dockerfile, 'utf8').then((text) => {
        for (const platform of plan.platforms) qualified[platform] = qualifySpec(spec, text, platform, input.buildkit);
      }),
      ...plan.platforms.map(async (platform: Platform) => {
        files[platform] = await contextFiles(spec, platform, input.artifacts);
        own[platform] = ownInputs(files[platform]!, dockerfile, spec.buildArgs, platform);
      }),
    ]);
    const done = input.done?.[plan.name];
    return { plan, own, files, qualified, epoch, ...(published ? { published } : {}), ...(tagged ? { tagged } : {}), ...(done ? { done } : {}) };
  }));
}
