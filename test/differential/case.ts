/**
 * One case of the differential test: a parent image (files and config, or none), a build context and a
 * Dockerfile, for one platform. Cases are plain JSON, so a case found by the generator is kept as it is
 * in the fixed corpus (test/fixtures/assemble/differential/).
 */
import type { Platform } from '../../pipeline/config/config.ts';

export interface FsEntry {
  /** Relative, no leading "/" (parent: from the root; context: from the context's root). */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  content?: string;
  link?: string;
}

export interface ParentSpec {
  entries: FsEntry[];
  /** The image config's `config` object (Env, WorkingDir, User, Shell, OnBuild, Cmd, ...). */
  config: Record<string, unknown>;
}

export interface Case {
  /** The seed and index that made it, or the corpus file's name. */
  id: string;
  platform: Platform;
  /** Undefined: the Dockerfile names no parent (every stage FROM scratch). */
  parent?: ParentSpec;
  context: FsEntry[];
  dockerfile: string;
  buildArgs: Record<string, string>;
}

/** What a corpus case must give: the two images equal, or the qualifier's refusal (a part of its reason). */
export interface CorpusCase extends Case {
  why: string;
  expect: 'equal' | { refused: string };
}

export function describeCase(c: Case): string {
  const listing = (entries: FsEntry[]) => entries.map((e) => `  ${e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-'} ${e.mode.toString(8).padStart(4, '0')} ${e.uid}:${e.gid} ${e.path}${e.link ? ` -> ${e.link}` : ''}`).join('\n');
  return [
    `case ${c.id} (${c.platform})`,
    `Dockerfile:\n${c.dockerfile.split('\n').map((l, i) => `  ${String(i + 1).padStart(2)}| ${l}`).join('\n')}`,
    `build args: ${JSON.stringify(c.buildArgs)}`,
    `context:\n${listing(c.context)}`,
    c.parent ? `parent config: ${JSON.stringify(c.parent.config)}\nparent files:\n${listing(c.parent.entries)}` : 'no parent',
  ].join('\n');
}
