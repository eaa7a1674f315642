/**
 * COPY as the assembler carries it out: sources from the build context (or a stage of the same
 * Dockerfile), no wildcard or URL, an expanded destination, --chown by numeric ids and --chmod in octal.
 */
import { posix } from 'node:path';
import type { Instruction } from 'dockerfile-ast';
import type { CopyStep, Owner } from '../recipe.ts';
import type { StageScope } from '../scope.ts';
import { MAX_USTAR_ID } from '../tar-header.ts';
import { numericOwner } from './owner.ts';
import type { InstructionReader } from './reader.ts';

const COPY_FLAGS = new Set(['from', 'chown', 'chmod']);

/** A stage's name in the recipe for a COPY --from reference, or a refusal. */
export type StageResolver = (ref: string, line: number) => string;

export function copyStep(i: Instruction, scope: StageScope, reader: InstructionReader, fromStage: StageResolver): CopyStep {
  const line = reader.line(i);
  if ((i as unknown as { getHeredocs(): unknown[] }).getHeredocs().length > 0) reader.refuse('COPY of a heredoc', line);
  const flags = copyFlags(i, scope, reader);
  const words = reader.words(i, scope);
  if (words.length < 2) reader.refuse('COPY without a source and a destination', line);
  const rawDest = words[words.length - 1]!;
  const sources = words.slice(0, -1).map((s) => source(s, line, reader));
  if (sources.length > 1 && !rawDest.endsWith('/')) reader.refuse('COPY of several sources into a destination without a trailing "/" (BuildKit rejects it)', line);
  const from = flags.from === undefined ? undefined : fromStage(flags.from, line);
  const step: CopyStep = { op: 'copy', line, createdBy: '', sources, dest: dest(rawDest, scope), ...(from ? { from } : {}) };
  if (flags.chown !== undefined) step.chown = chown(flags.chown, line, reader);
  if (flags.chmod !== undefined) step.chmod = chmod(flags.chmod, line, reader);
  step.createdBy = `COPY ${words.slice(0, -1).join(' ')} ${rawDest} # buildkit`;
  return step;
}

function copyFlags(i: Instruction, scope: StageScope, reader: InstructionReader): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of (i as unknown as { getFlags(): Array<{ getName(): string; getValue(): string | null }> }).getFlags()) {
    const name = f.getName();
    if (!COPY_FLAGS.has(name)) reader.refuse(`COPY --${name}`, reader.line(i));
    const value = f.getValue() ?? '';
    if (name !== 'chown' && value.includes('$')) reader.refuse(`COPY --${name}=${value} (BuildKit 0.8 does not expand variables there, later versions do)`, reader.line(i));
    out[name] = reader.expand(value, scope.get(), reader.line(i));
  }
  return out;
}

function source(word: string, line: number, reader: InstructionReader): string {
  if (/[*?[]/.test(word)) reader.refuse(`COPY source ${word} with a wildcard`, line);
  if (/^[a-z]+:\/\//i.test(word)) reader.refuse(`COPY source ${word} is a URL`, line);
  const clean = posix.join('/', word).slice(1);
  return clean === '' ? '.' : clean;
}

function dest(word: string, scope: StageScope): string {
  const joined = scope.resolve(word);
  const intoDir = word === '.' || word === '' || word.endsWith('/');
  return intoDir && !joined.endsWith('/') ? `${joined}/` : joined;
}

function chown(value: string, line: number, reader: InstructionReader): Owner {
  const owner = numericOwner(value);
  if (!owner) return reader.refuse(`COPY --chown=${value}: names need the parent's /etc/passwd and /etc/group, which BuildKit reads`, line);
  if (owner.uid > MAX_USTAR_ID || owner.gid > MAX_USTAR_ID) reader.refuse(`COPY --chown=${value}: an id over ${MAX_USTAR_ID} needs PAX owner records, which the assembler does not write`, line);
  return owner;
}

function chmod(value: string, line: number, reader: InstructionReader): number {
  if (!/^[0-7]{3,4}$/.test(value)) reader.refuse(`COPY --chmod=${value}: only octal modes`, line);
  return parseInt(value, 8);
}
