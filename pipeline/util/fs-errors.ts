/**
 * Local write failures the user has to fix outside the tool: a full disk or quota, a read-only file
 * system, a folder we may not write. Each becomes one EksdError naming the path, whatever stage hit it;
 * every write is atomic or redone on the next run, so fixing the cause and running again resumes.
 */
import { relative } from 'node:path';
import { EksdError } from '../errors.ts';

const NO_SPACE: Record<string, string> = { ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded' };
const NOT_WRITABLE: Record<string, string> = { EROFS: 'read-only file system', EACCES: 'permission denied', EPERM: 'operation not permitted' };

/** The errno error (the error itself or one of its causes) that is a disk-full or unwritable failure. */
export function diskErrorOf(e: unknown): NodeJS.ErrnoException | undefined {
  for (let cur = e, depth = 0; cur instanceof Error && depth < 8; cur = cur.cause, depth++) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (code && (code in NO_SPACE || code in NOT_WRITABLE)) return cur as NodeJS.ErrnoException;
  }
  return undefined;
}

/** FS_NO_SPACE or FS_NOT_WRITABLE naming `path` (else the path the error names), or undefined for other errors. */
export function writeFailure(e: unknown, path?: string): EksdError | undefined {
  for (let cur = e, depth = 0; cur instanceof Error && depth < 8; cur = cur.cause, depth++) {
    if (cur instanceof EksdError && cur.code.startsWith('FS_')) return cur; // already names its path
  }
  const disk = diskErrorOf(e);
  if (!disk) return undefined;
  const code = disk.code!;
  const target = path ?? (disk as { dest?: string }).dest ?? disk.path;
  const shown = target ? relative(process.cwd(), target) || target : undefined;
  const what = NO_SPACE[code] ?? NOT_WRITABLE[code]!;
  const again = 'then run the same command again: it resumes where this run stopped';
  return new EksdError(code in NO_SPACE ? 'FS_NO_SPACE' : 'FS_NOT_WRITABLE',
    shown ? `cannot write ${shown}: ${what} (${code})` : `cannot write: ${what} (${code})${e instanceof EksdError ? `; ${e.message}` : ''}`, {
      ...(shown ? { where: shown } : e instanceof EksdError && e.where ? { where: e.where } : {}),
      hint: code in NO_SPACE
        ? `free space on the file system holding it (or point the setting that names it at a larger one), ${again}`
        : `make it writable (or point the setting that names it at a writable folder), ${again}`,
      cause: e,
    });
}

/** Runs a write, turning a disk-full or unwritable failure into the EksdError naming `path`. */
export async function writing<T>(path: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw writeFailure(e, path) ?? e;
  }
}
