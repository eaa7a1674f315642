/**
 * Crash-safe file writes: data goes to a temp file in the target folder, is fsynced, then moved into
 * place (rename), or linked into place for create-only writes, so a reader never sees a partial file
 * and two writers never both "create" the same file. A full disk or an unwritable folder fails with
 * one EksdError naming the file (util/fs-errors.ts), leaving no temp file and the old content in place.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { constants } from 'node:fs';
import { chmod, copyFile, link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { EksdError } from '../errors.ts';
import { writing } from './fs-errors.ts';

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    // some file systems do not support fsync on directories; the rename itself is still atomic
  } finally {
    await fh.close();
  }
}

/**
 * mkdir -p. A recursive mkdir reports ENOENT for a folder it may not create (read-only file system, no
 * permission); the failing level is asked again without recursion so the error says why.
 */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    let level = dir;
    while (dirname(level) !== level && !existsSync(dirname(level))) level = dirname(level);
    await mkdir(level).catch((real: NodeJS.ErrnoException) => { if (real.code !== 'EEXIST') throw real; });
    throw e;
  }
}

/** What a file is written from: its content, or another file copied by the kernel (never read into memory). */
export type FileData = string | Uint8Array | { file: string };

async function writeTemp(path: string, data: FileData): Promise<string> {
  await makeDir(dirname(path));
  const tmp = tempPathFor(path);
  const copied = typeof data === 'object' && !(data instanceof Uint8Array);
  if (copied) await copyFile(data.file, tmp, constants.COPYFILE_EXCL).then(() => chmod(tmp, 0o644));
  const fh = await open(tmp, copied ? 'r+' : 'wx', 0o644);
  try {
    if (!copied) await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  return tmp;
}

/** Replaces (or creates) path atomically. */
export function writeFileAtomic(path: string, data: FileData): Promise<void> {
  return writing(path, async () => {
    const tmp = await writeTemp(path, data);
    try {
      await rename(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    await fsyncDir(dirname(path));
  });
}

/**
 * Creates path atomically only if it does not exist yet. Returns false (and leaves the existing file
 * alone) when it does.
 */
export function createFileAtomic(path: string, data: FileData): Promise<boolean> {
  return writing(path, async () => {
    const tmp = await writeTemp(path, data);
    try {
      await link(tmp, path);
      await fsyncDir(dirname(path));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  });
}

/** File content, or undefined when the file does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Writes path atomically unless it already holds exactly this content. Returns whether it wrote. */
export async function writeFileIfChanged(path: string, data: string): Promise<boolean> {
  if ((await readIfExists(path)) === data) return false;
  await writeFileAtomic(path, data);
  return true;
}

/** Parsed JSON content, or undefined when the file does not exist; FILE_CORRUPT names a file that is not JSON. */
export async function readJson<T>(path: string): Promise<T | undefined> {
  const text = await readIfExists(path);
  return text === undefined ? undefined : parseJsonFile<T>(text, path);
}

export function parseJsonFile<T>(text: string, path: string, hint = 'restore the file from a backup, or remove it to start that state over'): T {
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new EksdError('FILE_CORRUPT', `${path} is not valid JSON (${(cause as Error).message})`, { where: path, hint, cause });
  }
}
