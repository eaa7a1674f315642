/**
 * What one stage of a Dockerfile has in scope as its instructions are read: variables (the starting
 * environment, ARGs as declared, ENVs as set), the working directory and the user. The starting point is
 * the parent image's config (Env with PATH added when missing, WorkingDir, User), BuildKit's empty image
 * for FROM scratch, or unknown: then a word that reads a variable the stage does not set cannot be
 * expanded here.
 */
import { posix } from 'node:path';
import type { Scope } from './words.ts';

/** A scope that also knows which names a stage declared (set or not), and whether a name it does not know is unset. */
export type StageScopeMap = Map<string, string> & { declared?: Set<string>; complete?: boolean };

export interface StageStart {
  /** KEY=value entries; undefined: not known. */
  env: readonly string[] | undefined;
  workdir: string;
  user: string;
  /** What a shell-form CMD or ENTRYPOINT runs under. */
  shell: readonly string[];
}

export interface ArgValues {
  buildArg(name: string): string | undefined;
  autoArg(name: string): string | undefined;
  globalArgValue(name: string): string | undefined;
}

export class StageScope {
  workdir: string;
  user: string;
  readonly shell: readonly string[];
  private readonly args = new Map<string, string>();
  private readonly env = new Map<string, string>();
  private readonly declared = new Set<string>();
  private readonly complete: boolean;

  constructor(private readonly values: ArgValues, start: StageStart) {
    this.complete = start.env !== undefined;
    this.workdir = start.workdir;
    this.user = start.user;
    this.shell = start.shell;
    for (const e of start.env ?? []) {
      const at = e.indexOf('=');
      if (at > 0) this.env.set(e.slice(0, at), e.slice(at + 1));
    }
  }

  /**
   * ARG: the build arg, else the default, else the automatic value (TARGETARCH, ...), else the global
   * ARG; the history text. ARG and ENV write one environment for words: the later one wins.
   */
  declare(name: string, fallback: string | undefined): string {
    this.declared.add(name);
    const value = this.values.buildArg(name) ?? fallback ?? this.values.autoArg(name) ?? this.values.globalArgValue(name);
    this.args.delete(name);
    if (value !== undefined) this.args.set(name, value);
    return fallback === undefined ? name : `${name}=${fallback}`;
  }

  setEnv(name: string, value: string): void {
    this.args.delete(name);
    this.env.set(name, value);
  }

  get(): Scope {
    const scope: StageScopeMap = new Map([...this.env, ...this.args]);
    scope.declared = new Set([...this.declared, ...this.env.keys()]);
    scope.complete = this.complete;
    return scope;
  }

  /** A path as BuildKit resolves it here: an absolute one as given (cleaned), a relative one under the working directory. */
  resolve(path: string): string {
    return path.startsWith('/') ? posix.join('/', path) : posix.join('/', this.workdir, path);
  }
}
