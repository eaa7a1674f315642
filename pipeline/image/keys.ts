/**
 * Build keys: sha256 of a canonical description of everything that goes into one image for one
 * platform. Equal keys mean the published image can be reused as it is; the recorded inputs say which
 * part changed when they differ.
 */
import { createHash } from 'node:crypto';
import type { ContextFile } from './context.ts';

export interface BuildInputs {
  /** Hash of the recipe files (Dockerfile and friends): names, modes, contents. */
  recipe: string;
  /** Hash of the staged artifact files. */
  artifacts: string;
  /** Per-platform manifest digest of the FROM image. */
  from: string;
  /** Per-platform manifest digest of the builder image, when there is one. */
  builder?: string;
  /** Hash of the build arguments. */
  args: string;
  platform: string;
  /** The builder, for one whose images' bytes depend on it (the assembler: 'assemble', with SOURCE_DATE_EPOCH). BuildKit builds carry none, so their keys are unchanged. */
  via?: string;
  /** SOURCE_DATE_EPOCH of an assembled image, in seconds. */
  epoch?: number;
  /** The assembler's output format (builders/assembler/assemble.ts ASSEMBLER_FORMAT): a new format rebuilds what the old one made. */
  assembler?: number;
}

export const KEY_VERSION = 'eksd-build-key/v1';

/** Inputs as an index entry's annotation records them, if readable: a damaged annotation reads as none. */
export function parseBuildInputs(text: string | undefined): BuildInputs | undefined {
  if (!text) return undefined;
  try {
    const inputs = JSON.parse(text) as unknown;
    return inputs && typeof inputs === 'object' && !Array.isArray(inputs) ? inputs as BuildInputs : undefined;
  } catch {
    return undefined;
  }
}

const hash = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex');

/** The inputs a build has before its parents are known: everything but the parents' digests. */
export type OwnInputs = Omit<BuildInputs, 'from' | 'builder'>;

/** What a builder adds to the key (builders/port.ts Acceptance `key`): nothing for BuildKit. */
export type PathInputs = Pick<BuildInputs, 'via' | 'epoch' | 'assembler'>;

/** Inputs whose parents may still be unknown (`from` or `builder` missing: that parent is rebuilt in this run). */
export type KnownInputs = OwnInputs & { from?: string; builder?: string };

export function ownInputs(files: ContextFile[], dockerfile: string, args: Record<string, string>, platform: string): OwnInputs {
  const list = (origin: ContextFile['origin']) => files.filter((f) => f.origin === origin).map((f) => [f.name, f.mode, f.sha256]);
  return {
    recipe: hash({ dockerfile, files: list('recipe') }),
    artifacts: hash(list('artifact')),
    args: hash(Object.entries(args).sort(([a], [b]) => a.localeCompare(b))),
    platform,
  };
}

/** The full inputs, once every parent's digest is known (in the order published annotations carry them). */
export function withParents(own: OwnInputs, from: string, builder?: string): BuildInputs {
  return { recipe: own.recipe, artifacts: own.artifacts, from, ...(builder ? { builder } : {}), args: own.args, platform: own.platform, ...pathOf(own) };
}

/** The own inputs of a build made on the given path. */
export function onPath(own: OwnInputs, path: PathInputs): OwnInputs {
  return { recipe: own.recipe, artifacts: own.artifacts, args: own.args, platform: own.platform, ...pathOf(path) };
}

function pathOf(p: PathInputs): PathInputs {
  return p.via !== undefined ? { via: p.via, ...(p.epoch !== undefined ? { epoch: p.epoch } : {}), ...(p.assembler !== undefined ? { assembler: p.assembler } : {}) } : {};
}

export function buildKey(inputs: BuildInputs): string {
  const ordered = Object.fromEntries(Object.entries(inputs).sort(([a], [b]) => a.localeCompare(b)));
  return `sha256:${hash({ v: KEY_VERSION, ...ordered })}`;
}

/** Why a build is needed, in words: which inputs differ from the last published build. */
export function explainChange(previous: BuildInputs | undefined, current: KnownInputs, names: { from: string; builder?: string }): string {
  if (!previous) return 'no published build with these inputs';
  const reasons: string[] = [];
  if (previous.from !== current.from) reasons.push(names.from === 'upstream' ? 'upstream base image updated' : `parent ${names.from} changed`);
  if (previous.builder !== current.builder) reasons.push(`builder ${names.builder ?? ''} changed`.trim());
  if (previous.recipe !== current.recipe) reasons.push('recipe changed');
  if (previous.artifacts !== current.artifacts) reasons.push('artifacts changed');
  if (previous.args !== current.args) reasons.push('build arguments changed');
  if (previous.via !== current.via) reasons.push(`build path changed to ${current.via === undefined ? 'BuildKit' : current.via === 'assemble' ? 'the assembler' : current.via}`);
  else if (previous.epoch !== current.epoch) reasons.push('SOURCE_DATE_EPOCH changed');
  else if (previous.assembler !== current.assembler) reasons.push('the assembler changed');
  return reasons.length ? reasons.join(', ') : 'build key format changed';
}
