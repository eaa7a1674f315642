/**
 * The assembler behind the Builder port: COPY-only recipes (qualify.ts) made without an engine, equal
 * to what the engine's BuildKit makes (0.8 to 0.12). It accepts a recipe from its text alone; before
 * assembling it qualifies the recipe again on the parent's config (a parent's ONBUILD, WorkingDir, User or
 * Env can change the answer) and refuses what no longer qualifies. A parent's config, layers and files
 * are read from the registry once per parent manifest and kept, so the children of one base share a read.
 */
import { Memo } from '../../util/memo.ts';
import { EksdError } from '../../errors.ts';
import { readPlatformImage } from '../../registry/image.ts';
import type { Acceptance, Builder, BuildEvent, BuildJob, BuildParent, BuildResult, RecipeView } from '../port.ts';
import { assemble, ASSEMBLER_FORMAT, type AssembleParent } from './assemble.ts';
import { parentFsFromRegistry } from './parent-fs.ts';
import { qualify, type Qualification } from './qualify.ts';
import type { ParentConfig } from './recipe.ts';

interface ParentRead { config: Buffer; layers: AssembleParent['layers']; fs: () => Promise<AssembleParent['fs']> }

export class Assembler implements Builder {
  readonly name = 'assemble';
  private readonly parents = new Memo<ParentRead>();

  /**
   * `buildkit`: per platform, the BuildKit of the engine that would build it, which an assembled image must
   * equal (undefined: no engine to match).
   */
  constructor(private readonly buildkit: (platform: string) => string | undefined) {}

  accepts(view: RecipeView): Acceptance {
    const q = this.qualify(view);
    return q.assemble ? { accepts: true, why: 'COPY-only recipe', key: { via: 'assemble', epoch: view.epoch, assembler: ASSEMBLER_FORMAT } }
      : { accepts: false, why: q.reason };
  }

  async build(job: BuildJob, report: (e: BuildEvent) => void): Promise<BuildResult> {
    const { view } = job;
    const first = this.qualify(view);
    const parent = first.assemble && first.recipe.base.kind === 'parent' ? await this.read(job.parents.from) : undefined;
    const q = parent ? this.qualify(view, configOf(parent.config)) : first;
    if (!q.assemble) return { refused: q.reason };
    const { recipe } = q;
    if (recipe.base.kind === 'parent' && recipe.base.arg !== 'BASE_IMAGE') {
      throw new EksdError('BUILD_FAILED', `${view.image} ${view.platform}: the recipe's final stage is FROM $${recipe.base.arg}, the assembler takes only $BASE_IMAGE`, {
        hint: 'build it with --buildkit-only (or build.assemble: false) and report the recipe',
      });
    }
    try {
      const from = parent ? { config: parent.config, layers: parent.layers, fs: await parent.fs() } : undefined;
      const image = await assemble({ recipe, context: job.context, parent: from, sourceDateEpoch: view.epoch, cacheDir: job.cacheDir });
      report({ kind: 'built', detail: `assembled, ${image.layers.length - image.inherited} layers` });
      return { image };
    } catch (e) {
      throw new EksdError('BUILD_FAILED', `${view.image} ${view.platform}: the assembler failed: ${(e as Error).message}`, {
        hint: 'run again with --buildkit-only to build it through BuildKit', cause: e,
      });
    }
  }

  /** The builder names the parents in BASE_IMAGE / BUILDER_IMAGE; their values do not matter here. */
  private qualify(view: RecipeView, parent?: ParentConfig): Qualification {
    return qualify({ dockerfile: view.dockerfile, file: view.file, platform: view.platform,
      buildArgs: { BASE_IMAGE: 'parent', ...(view.hasBuilder ? { BUILDER_IMAGE: 'builder' } : {}), ...view.buildArgs },
      ...(parent ? { parent } : {}), ...withBuildKit(this.buildkit(view.platform)) });
  }

  /** The parent's manifest and config now; its files only when an image is assembled on it. */
  private read({ source, manifest }: BuildParent): Promise<ParentRead> {
    return this.parents.get(`${source.repository}@${manifest}`, () => readPlatformImage(source.client, source.repository, manifest).then(({ config, layers }) => {
      let fs: ReturnType<ParentRead['fs']> | undefined;
      const readFs = () => {
        fs = parentFsFromRegistry(source.client, source.repository, layers);
        fs.catch(() => { fs = undefined; });
        return fs;
      };
      return { config, layers, fs: () => fs ?? readFs() };
    }));
  }
}

function configOf(config: Buffer): ParentConfig {
  return (JSON.parse(config.toString('utf8')) as { config?: ParentConfig }).config ?? {};
}

function withBuildKit(buildkit: string | undefined): { buildkit?: string } {
  return buildkit ? { buildkit } : {};
}
