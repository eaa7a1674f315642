/**
 * The instructions that only change the image's config (ENV, LABEL, USER, STOPSIGNAL, EXPOSE, ENTRYPOINT,
 * CMD) or the stage's variables (ARG): the change, in the forms BuildKit accepts, applied to the scope.
 */
import type { Instruction, Property } from 'dockerfile-ast';
import type { ConfigChange, ConfigStep } from '../recipe.ts';
import type { StageScope } from '../scope.ts';
import { createdBy } from './history.ts';
import type { InstructionReader } from './reader.ts';

const SIGNALS = new Set(['ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR',
  'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ']);

/** `cmdSet`: a CMD came earlier in the stage, so an ENTRYPOINT here keeps it. */
export function configStep(keyword: string, i: Instruction, scope: StageScope, reader: InstructionReader, cmdSet: boolean): ConfigStep {
  const change = configChange(keyword, i, scope, reader, cmdSet);
  if ('user' in change) scope.user = change.user;
  return { op: 'config', line: reader.line(i), createdBy: createdBy(keyword, change, i), change };
}

function configChange(keyword: string, i: Instruction, scope: StageScope, reader: InstructionReader, cmdSet: boolean): ConfigChange {
  const line = reader.line(i);
  switch (keyword) {
    case 'ARG': return { arg: reader.properties(i).map((p) => declareArg(p, scope, reader, line)).join(' ') };
    case 'ENV': return { env: reader.pairs(i, scope, (k, v) => scope.setEnv(k, v)) };
    case 'LABEL': return { labels: reader.pairs(i, scope) };
    case 'USER': return { user: reader.single(i, scope) };
    case 'STOPSIGNAL': return { stopSignal: signal(reader.single(i, scope), line, reader) };
    case 'EXPOSE': return { expose: [...new Set(reader.words(i, scope).map((w) => port(w, line, reader)))].sort() };
    case 'ENTRYPOINT': return { entrypoint: reader.command(i, scope), resetsCmd: !cmdSet };
    default: return { cmd: reader.command(i, scope) };
  }
}

function declareArg(p: Property, scope: StageScope, reader: InstructionReader, line: number): string {
  return scope.declare(p.getName(), p.getValue() === null ? undefined : reader.expand(reader.rawValue(p), scope.get(), line));
}

/** A signal BuildKit accepts: a number above 0, or a Linux signal's name with or without SIG. */
function signal(value: string, line: number, reader: InstructionReader): string {
  if (!/^[1-9]\d*$/.test(value) && !SIGNALS.has(value.toUpperCase().replace(/^SIG/, ''))) reader.refuse(`STOPSIGNAL ${value}: not a signal BuildKit knows`, line);
  return value;
}

function port(word: string, line: number, reader: InstructionReader): string {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(word);
  if (!m) return reader.refuse(`EXPOSE ${word}: only single ports`, line);
  return `${m[1]}/${(m[2] ?? 'tcp').toLowerCase()}`;
}
