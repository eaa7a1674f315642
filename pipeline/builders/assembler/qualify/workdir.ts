/** WORKDIR: the directory it makes (owned by the USER at that step) and what the config's WorkingDir says. */
import type { Instruction } from 'dockerfile-ast';
import type { Owner, WorkdirStep } from '../recipe.ts';
import type { StageScope } from '../scope.ts';
import { MAX_USTAR_ID } from '../tar-header.ts';
import { numericOwner } from './owner.ts';
import type { InstructionReader } from './reader.ts';

export function workdirStep(i: Instruction, scope: StageScope, reader: InstructionReader): WorkdirStep {
  const owner = workdirOwner(scope.user, reader.line(i), reader);
  const word = reader.single(i, scope);
  const path = scope.resolve(word);
  const workingDir = word.startsWith('/') ? word : path;
  scope.workdir = path;
  return { op: 'workdir', line: reader.line(i), createdBy: `WORKDIR ${workingDir}`, path, workingDir, ...(owner ? { owner } : {}) };
}

/** BuildKit makes WORKDIR's directories as the USER; a name needs the image's /etc/passwd. */
function workdirOwner(user: string, line: number, reader: InstructionReader): Owner | undefined {
  if (user === '') return undefined;
  const owner = numericOwner(user);
  if (!owner) return reader.refuse(`WORKDIR as USER ${user}: its directories belong to a user named in the image's /etc/passwd, which BuildKit reads`, line);
  if (owner.uid > MAX_USTAR_ID || owner.gid > MAX_USTAR_ID) reader.refuse(`WORKDIR as USER ${user}: an id over ${MAX_USTAR_ID} needs PAX owner records, which the assembler does not write`, line);
  return owner;
}
