/**
 * The build of one platform image by the assembler (assemble/): no engine. The parent's config, layers
 * and filesystem metadata are read from the registry once per parent manifest and kept for the run, so
 * the children of one base share one read.
 */
import type { ContextFile } from '../buildkit/context.ts';
import type { ExportedImage } from '../buildkit/export.ts';
import { assemble, type AssembleParent } from './assemble.ts';
import { parentFsFromRegistry } from './parent-fs.ts';
import { readFile } from 'node:fs/promises';
import { qualify, type Qualification } from './qualify.ts';
import type { ParentConfig, Recipe } from './recipe.ts';
import type { ImageSpec } from '../../catalog/model.ts';
import { EksdError } from '../../errors.ts';
import { readPlatformImage, type ImageSource } from '../../registry/image.ts';

/** A parent platform image: where it lives and its manifest digest. */
export interface ParentSource extends ImageSource { manifest: string }

export type ParentCache = (source: ParentSource) => Promise<AssembleParent>;

export function parentCache(): ParentCache {
  const read = new Map<string, Promise<AssembleParent>>();
  return (source) => {
    const id = `${source.repository}@${source.manifest}`;
    let parent = read.get(id);
    if (!parent) {
      parent = readParent(source);
      read.set(id, parent);
      parent.catch(() => read.delete(id));
    }
    return parent;
  };
}

async function readParent({ client, repository, manifest }: ParentSource): Promise<AssembleParent> {
  const { config, layers } = await readPlatformImage(client, repository, manifest);
  return { config, layers, fs: await parentFsFromRegistry(client, repository, layers) };
}

/**
 * The image's recipe qualified for the assembler: before the parents are known (`parent` absent: a word
 * that reads a variable the recipe does not set is refused), and again on the parent's config, before it
 * is assembled; for the engine's BuildKit when it is known. The builder names the parents in BASE_IMAGE / BUILDER_IMAGE;
 * their values do not matter here.
 */
export function qualifySpec(spec: ImageSpec, dockerfile: string, platform: string, buildkit: string | undefined, parent?: ParentConfig): Qualification {
  return qualify({ dockerfile, file: spec.dockerfile.slice(spec.contextDir.length + 1), platform,
    buildArgs: { BASE_IMAGE: 'parent', ...(spec.builder ? { BUILDER_IMAGE: 'builder' } : {}), ...spec.buildArgs },
    ...(parent ? { parent } : {}), ...(buildkit ? { buildkit } : {}) });
}

/** Qualified again before assembly: on the parent's config (read alone: its manifest and config blob; none for FROM scratch) and for the engine's BuildKit. */
export async function qualifyOnParent(spec: ImageSpec, platform: string, parent: ParentSource | undefined, buildkit: string | undefined): Promise<Qualification> {
  const config = parent ? await parentConfig(parent) : undefined;
  return qualifySpec(spec, await readFile(spec.dockerfile, 'utf8'), platform, buildkit, config);
}

async function parentConfig({ client, repository, manifest }: ParentSource): Promise<ParentConfig> {
  const { config } = await readPlatformImage(client, repository, manifest);
  return (JSON.parse(config.toString('utf8')) as { config?: ParentConfig }).config ?? {};
}

export interface AssembleJob {
  image: string;
  platform: string;
  recipe: Recipe;
  context: ContextFile[];
  /** The FROM parent (BASE_IMAGE); the recipe names no other. */
  parent: ParentSource;
  epoch: number;
  cacheDir: string;
}

export async function assemblePlatform(job: AssembleJob, parents: ParentCache): Promise<ExportedImage> {
  const { recipe } = job;
  if (recipe.base.kind === 'parent' && recipe.base.arg !== 'BASE_IMAGE') {
    throw new EksdError('BUILD_FAILED', `${job.image} ${job.platform}: the recipe's final stage is FROM $${recipe.base.arg}, the assembler takes only $BASE_IMAGE`, {
      hint: 'build it with --buildkit-only (or build.assemble: false) and report the recipe',
    });
  }
  const parent = recipe.base.kind === 'parent' ? await parents(job.parent) : undefined;
  try {
    return await assemble({ recipe, context: job.context, parent, sourceDateEpoch: job.epoch, cacheDir: job.cacheDir });
  } catch (e) {
    throw new EksdError('BUILD_FAILED', `${job.image} ${job.platform}: the assembler failed: ${(e as Error).message}`, {
      hint: 'run again with --buildkit-only to build it through BuildKit', cause: e,
    });
  }
}
