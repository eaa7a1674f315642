/**
 * The Builder port: how the images stage asks for one platform image without knowing how it is made.
 * A builder says, from the recipe alone, whether it makes the recipe's image (`accepts`, pure: it runs
 * while deciding, before any parent is known) and what it adds to the build key; then `build` makes the
 * image as a value (image/image.ts), which publish/ pushes whichever builder made it. A builder may still
 * refuse in `build`, once it sees the parent (its config, its files): the stage then decides again
 * without it. Adapters: builders/assembler/ (COPY-only recipes, no engine) and builders/buildkit/ (a Docker
 * engine's BuildKit); select.ts picks one.
 */
import type { Platform } from '../config/config.ts';
import type { ContextFile } from '../image/context.ts';
import type { Image } from '../image/image.ts';
import type { PathInputs } from '../image/keys.ts';
import type { ImageSource } from '../registry/image.ts';

/** What a builder reads of a recipe to say whether it makes it. */
export interface RecipeView {
  image: string;
  platform: Platform;
  /** The Dockerfile's text and its path inside the context. */
  dockerfile: string;
  file: string;
  /** The catalog's build args (the parents' args are the builder's own). */
  buildArgs: Record<string, string>;
  /** The recipe names a BUILDER_IMAGE parent beside BASE_IMAGE. */
  hasBuilder: boolean;
  /** SOURCE_DATE_EPOCH of the image, in seconds. */
  epoch: number;
}

export type Acceptance =
  /** `why` says why this builder makes it; `key` is what its images add to the build key (none: the key is BuildKit's). */
  | { accepts: true; why: string; key?: PathInputs }
  | { accepts: false; why: string };

/** A parent of one build: where it lives, its index ('' in a split job: none pushed yet), and its manifest for the build's platform. */
export interface BuildParent { source: ImageSource; reference: string; index: string; manifest: string }

export interface BuildJob {
  view: RecipeView;
  context: ContextFile[];
  /** BASE_IMAGE, and BUILDER_IMAGE when the recipe has one. */
  parents: { from: BuildParent; builder?: BuildParent };
  /** The build key: names what an engine keeps of the build. */
  key: string;
  /** Where builders keep what outlives one build (compressed layers by digest). */
  cacheDir: string;
}

export type BuildEvent =
  | { kind: 'step'; name: string; state: 'started' | 'done' | 'cached' }
  | { kind: 'log'; text: string }
  /** The image is made: a line on how (steps, layers). */
  | { kind: 'built'; detail: string };

export type BuildResult = { image: Image } | { refused: string };

export interface Builder {
  /** The path's name, as decisions and build keys record it ('assemble', 'buildkit'). */
  readonly name: string;
  /** Where it builds, for a person: the engine's address (none for a builder that needs no engine). */
  readonly engine?: string;
  /** The platforms it builds (none: every platform). */
  readonly platforms?: readonly Platform[];
  accepts(recipe: RecipeView): Acceptance;
  build(job: BuildJob, report: (e: BuildEvent) => void): Promise<BuildResult>;
}
