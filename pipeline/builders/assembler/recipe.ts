/** A qualified recipe: what the assembler carries out, every word expanded and every path absolute. */

export interface TargetPlatform { os: string; architecture: string; variant?: string }

export interface Owner { uid: number; gid: number }

/** The parent image's `config` as its config blob has it: what a recipe's words, paths and WORKDIRs start from. */
export interface ParentConfig {
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  OnBuild?: string[] | null;
  [field: string]: unknown;
}

/** The SHELL of an image that sets none. */
export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

/** The PATH BuildKit gives an image whose environment has none (Linux). */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The parent's environment as BuildKit starts from it: PATH added when missing. */
export function startingEnv(env: readonly string[] | null | undefined): string[] {
  const list = [...(env ?? [])];
  return list.some((e) => e.startsWith('PATH=')) ? list : [...list, DEFAULT_PATH];
}

export interface CopyStep {
  op: 'copy';
  line: number;
  createdBy: string;
  /** Paths in the build context (or, with `from`, in that stage), relative, cleaned; "." is the whole context. */
  sources: string[];
  /** Absolute; a trailing "/" says "into this directory". */
  dest: string;
  /** A stage of the same Dockerfile (its name in `Recipe.stages`). */
  from?: string;
  chown?: Owner;
  chmod?: number;
}

export interface WorkdirStep {
  op: 'workdir'; line: number; createdBy: string;
  /** The directory made, absolute and clean. */
  path: string;
  /** As the config says it: an absolute path as written (not cleaned), a relative one joined to the working directory. */
  workingDir: string;
  /** Who owns the directories it makes: the USER at this step (root when none). */
  owner?: Owner;
}

export type ConfigChange =
  | { env: Array<[string, string]> }
  | { user: string }
  | { entrypoint: string[]; resetsCmd: boolean }
  | { cmd: string[] }
  | { expose: string[] }
  | { labels: Array<[string, string]> }
  | { stopSignal: string }
  /** ARG: a history entry, nothing else. */
  | { arg: string };

export interface ConfigStep { op: 'config'; line: number; createdBy: string; change: ConfigChange }

export type Step = CopyStep | WorkdirStep | ConfigStep;

export interface StageRecipe { name: string; steps: Step[] }

export interface Recipe {
  platform: TargetPlatform;
  /** The parent image, named by the build arg its FROM expands (BASE_IMAGE); scratch for none. */
  base: { kind: 'parent'; arg: string } | { kind: 'scratch' };
  steps: Step[];
  /** Stages the final stage copies from (`COPY --from`), each FROM scratch, by name. */
  stages: Record<string, StageRecipe>;
}
