/**
 * BuildKit behind the Builder port: any recipe, on a Docker engine. The context goes as a tar, the parents
 * by digest (BASE_IMAGE, BUILDER_IMAGE), SOURCE_DATE_EPOCH when the engine's BuildKit takes it; the image
 * the engine made is exported (export.ts) reusing the parent's compressed layers. Everything about the
 * engine stays here: the caller gets an Image.
 */
import type Docker from 'dockerode';
import { diffIdsOf } from '../../image/image.ts';
import { readPlatformImage } from '../../registry/image.ts';
import type { Platform } from '../../config/config.ts';
import type { Acceptance, Builder, BuildEvent, BuildJob, BuildParent, BuildResult, RecipeView } from '../port.ts';
import type { BuildKitBuilder, ParentImage } from './builder.ts';
import { contextTar } from './context.ts';
import { exportImage } from './export.ts';
import { engineBuildKit, takesSourceDateEpoch } from './version.ts';

export class BuildKit implements Builder {
  readonly name = 'buildkit';
  readonly engine: string;
  readonly platforms?: readonly Platform[];
  private version: Promise<string | undefined> | undefined;

  /** `at`: the engine's address, for a person; `platforms`: the only ones this engine builds (none: every one). */
  constructor(private readonly docker: Docker, private readonly runner: BuildKitBuilder, o: { at: string; platforms?: readonly Platform[] }) {
    this.engine = o.at;
    if (o.platforms) this.platforms = o.platforms;
  }

  /**
   * The engine's BuildKit, asked once: "unknown" when the engine does not say which; undefined when it
   * cannot be reached (it then builds nothing an assembled image could differ from).
   */
  buildkit(): Promise<string | undefined> {
    return (this.version ??= this.docker.version().then((v) => engineBuildKit(v) ?? 'unknown', () => undefined));
  }

  accepts(view: RecipeView): Acceptance {
    return { accepts: true, why: this.platforms ? `${view.platform} builds on its own engine (${this.engine})` : 'BuildKit builds any recipe' };
  }

  async build(job: BuildJob, report: (e: BuildEvent) => void): Promise<BuildResult> {
    const { view, parents } = job;
    const epochArg = takesSourceDateEpoch(await this.buildkit());
    const result = await this.runner.build({
      image: view.image, platform: view.platform, context: contextTar(job.context), dockerfile: view.file,
      buildArgs: epochArg ? { ...view.buildArgs, SOURCE_DATE_EPOCH: String(view.epoch) } : view.buildArgs,
      parents: { BASE_IMAGE: byIndex(parents.from), ...(parents.builder ? { BUILDER_IMAGE: byIndex(parents.builder) } : {}) },
      tag: `eksd-build/${view.image}:${view.platform.split('/')[1]}-${job.key.slice(7, 19)}`,
    }, (e) => {
      if (e.kind === 'step' && e.state !== 'started') report({ kind: 'step', name: e.name, state: e.state });
      if (e.kind === 'log') report({ kind: 'log', text: e.text });
    });
    report({ kind: 'built', detail: `${result.steps} steps, ${result.cachedSteps} cached` });
    const parent = await readPlatformImage(parents.from.source.client, parents.from.source.repository, parents.from.manifest);
    const image = await exportImage(this.docker, result.imageId, { diffIds: diffIdsOf(parent.config), layers: parent.layers }, job.cacheDir, result.parentNames);
    return { image };
  }

  close(): Promise<void> {
    return this.runner.close();
  }
}

/**
 * The builder names a parent by its index: the engine picks the platform. A split job has no index yet
 * (the merge writes it): the parent's platform manifest then, which the engine takes as it is.
 */
function byIndex(p: BuildParent): ParentImage {
  return { ...p.source, digest: p.index || p.manifest };
}
