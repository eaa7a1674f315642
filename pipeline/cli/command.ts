/** What a command is: its name, help text, options, and a run function returning an exit code. */
import type { ParseArgsConfig } from 'node:util';
import type { StopRequest } from '../app/stop.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { description: string; valueName?: string };

export interface CommandContext {
  args: string[];
  values: Record<string, string | boolean | string[] | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Set for a `stoppable` command: SIGTERM and SIGINT ask it to stop at its next safe point. */
  stop?: StopRequest;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Longer help: what it does, exit codes. */
  details?: string;
  options: Record<string, OptionSpec>;
  /** SIGTERM and SIGINT stop it at its next safe point (exit 130 / 143) instead of killing it. */
  stoppable?: boolean;
  run(ctx: CommandContext): Promise<number>;
}

/** Exit codes shared by every command (documented in README "Exit codes"). */
export const EXIT = {
  ok: 0,
  failed: 1,
  badInput: 2,
  verifyFailed: 3,
  busy: 4,
  baseChanged: 10,
  /** stopped by SIGTERM (128 + 15); by SIGINT it is 130 (see app/stop.ts exitCodeFor) */
  interrupted: 143,
} as const;

/** Options every command that reads configuration accepts. */
export const CONFIG_OPTIONS: Record<string, OptionSpec> = {
  profile: { type: 'string', description: 'configuration profile: local (default) or production', valueName: 'name' },
  config: { type: 'string', description: 'YAML file merged over the profile', valueName: 'file' },
  channel: { type: 'string', description: 'release channel, e.g. 1-33', valueName: 'channel' },
  'image-repo': { type: 'string', description: 'registry and namespace for images, e.g. public.ecr.aws/eks-distro', valueName: 'repo' },
  'site-dir': { type: 'string', description: 'site output directory', valueName: 'dir' },
};
