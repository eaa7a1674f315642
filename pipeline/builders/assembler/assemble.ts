/**
 * The assembler: a qualified recipe (qualify.ts) carried out without the Docker engine. Each COPY and
 * WORKDIR becomes one layer laid out as BuildKit lays it out (tree.ts), written deterministically
 * (layer.ts); the config is the parent's plus the instructions (config.ts). The result is an Image
 * (image/image.ts), as BuildKit's export is, so publish/platform-image.ts pushes it alike.
 * The same inputs give the same bytes: layers, config, and so the manifest.
 */
import { createHash } from 'node:crypto';
import type { ContextFile } from '../../image/context.ts';
import type { Image, Layer } from '../../image/image.ts';
import type { Descriptor } from '../../image/media-types.ts';
import { imageConfig } from './config.ts';
import { writeLayer } from './layer.ts';
import type { ParentFs } from './parent-fs.ts';
import type { CopyStep, Recipe, Step } from './recipe.ts';
import { copyInto, parentOf, Tree } from './tree.ts';

/** The format of what the assembler writes; part of an assembled image's build key. 2: BuildKit's copies, config and Go's tar headers, as the differential test holds them. */
export const ASSEMBLER_FORMAT = 2;

export interface AssembleParent {
  /** The parent's config blob as the registry serves it. */
  config: Buffer;
  /** The parent's layer descriptors, in manifest order (kept as they are: inherited layers are not rewritten). */
  layers: Descriptor[];
  /** Its root filesystem (parent-fs.ts). */
  fs: ParentFs;
}

export interface AssembleInput {
  recipe: Recipe;
  /** The build context of this platform (stages/images/context.ts contextFiles). */
  context: ContextFile[];
  /** Undefined for a recipe FROM scratch. */
  parent: AssembleParent | undefined;
  /** Seconds since the epoch: every mtime and `created`. */
  sourceDateEpoch: number;
  /** Layer blobs are written to `<cacheDir>/layers/<digest>.tar.gz`. */
  cacheDir: string;
}

export async function assemble(input: AssembleInput): Promise<Image> {
  const { recipe, parent } = input;
  if ((recipe.base.kind === 'parent') !== (parent !== undefined)) {
    throw new Error(`assemble: the recipe is FROM ${recipe.base.kind === 'parent' ? `$${recipe.base.arg}` : 'scratch'} but ${parent ? 'a' : 'no'} parent was given`);
  }
  const mtime = new Date(input.sourceDateEpoch * 1000);
  const context = contextTree(input.context);
  // Stages are listed after the stages they copy from themselves.
  const stages = new Map<string, Tree>();
  for (const s of Object.values(recipe.stages)) stages.set(s.name, runSteps(new Tree(), s.steps, context, stages));
  const parentConfig = parent ? JSON.parse(parent.config.toString('utf8')) as Record<string, unknown> : undefined;
  const root = new Tree(parent ? (p) => parent.fs.get(p) : undefined);
  const layers: Layer[] = [...(parent?.layers ?? [])];
  const diffIds: Array<string | undefined> = [];
  for (const step of recipe.steps) {
    if (step.op === 'config') {
      diffIds.push(undefined);
      continue;
    }
    applyStep(root, step, context, stages);
    const changes = root.takeChanges();
    // Every COPY and WORKDIR makes a layer, an empty one when nothing changed, but `WORKDIR /` (BuildKit skips that one).
    const written = step.op === 'copy' || step.workingDir !== '/' ? await writeLayer(changes, mtime, input.cacheDir) : undefined;
    if (written) layers.push(written.blob);
    diffIds.push(written?.diffId);
  }
  const config = imageConfig({ parent: parentConfig,
    platform: recipe.platform, steps: recipe.steps, diffIds, created: mtime.toISOString().replace('.000Z', 'Z') });
  return { config, configDigest: `sha256:${createHash('sha256').update(config).digest('hex')}`, layers, inherited: parent?.layers.length ?? 0 };
}

/** A stage FROM scratch, run for what a later COPY --from reads. */
function runSteps(tree: Tree, steps: Step[], context: Tree, stages: Map<string, Tree>): Tree {
  for (const step of steps) if (step.op !== 'config') applyStep(tree, step, context, stages);
  return tree;
}

function applyStep(tree: Tree, step: Exclude<Step, { op: 'config' }>, context: Tree, stages: Map<string, Tree>): void {
  if (step.op === 'workdir') { tree.mkdirAll(step.path, step.owner); return; }
  const from = step.from === undefined ? context : stages.get(step.from);
  if (!from) throw new Error(`COPY --from=${step.from} at line ${step.line}: no such stage in the recipe`);
  for (const source of step.sources) copyInto(tree, from, source, step.dest, options(step), `line ${step.line}`);
}

function options(step: CopyStep): { chown?: { uid: number; gid: number }; chmod?: number } {
  return { ...(step.chown ? { chown: step.chown } : {}), ...(step.chmod !== undefined ? { chmod: step.chmod } : {}) };
}

/** The context as BuildKit sees it after unpacking our context tar: entries as listed, other directories 0755 root. */
function contextTree(files: ContextFile[]): Tree {
  const tree = new Tree();
  for (const f of files) {
    for (let d = parentOf(f.name); d !== '' && !tree.get(d); d = parentOf(d)) tree.set(d, { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 });
    const owner = { uid: f.uid ?? 0, gid: f.gid ?? 0 };
    tree.set(f.name, f.type === 'dir' ? { type: 'dir', mode: f.mode, ...owner, size: 0 } : { type: 'file', mode: f.mode, ...owner, size: 0, source: f.source, sha256: f.sha256 });
  }
  return tree;
}
