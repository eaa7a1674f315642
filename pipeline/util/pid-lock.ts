/**
 * Lock files naming their holder, shared by the channel lock, the environment start and the busybox fetch.
 *
 * A lock file appears with its content at once (createFileAtomic: written to a temp file, then linked
 * into place, which fails if it exists), so a reader never mistakes a lock being written for a stale
 * one. Taking over a stale lock is serialized by a second file (`<lock>.takeover`): of several
 * processes that find the same dead holder, one removes the stale lock, and only if it is still the one
 * it judged stale.
 */
import { rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EksdError } from '../errors.ts';
import { createFileAtomic, makeDir, readIfExists } from './fs-atomic.ts';

/** True while a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when a lock file's text names a process that still runs (a pid lock: the pid, then a newline). */
export function holderAlive(text: string): boolean {
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid);
}

export type LockAttempt = { release: () => Promise<void> } | { holder: string };

/** A takeover guard older than this was left by a process killed while taking over. */
const GUARD_STALE_MS = 10_000;

/**
 * One attempt at `file`: creates it holding `content`, taking over a lock whose text `stale` judges
 * stale; else returns the live holder's text.
 */
export async function tryLock(file: string, content: string, stale: (text: string) => boolean): Promise<LockAttempt> {
  await makeDir(dirname(file));
  const deadline = Date.now() + 2 * GUARD_STALE_MS;
  while (Date.now() < deadline) {
    if (await createFileAtomic(file, content)) {
      return { release: async () => { if ((await readIfExists(file)) === content) await rm(file, { force: true }); } };
    }
    const text = await readIfExists(file);
    if (text === undefined) continue; // released in the meantime
    if (!stale(text)) return { holder: text };
    await takeOver(file, text, content);
  }
  throw new EksdError('LOCK_CONTENDED', `could not take the lock ${file}: other processes keep taking over a stale lock`, { where: file, hint: 'retry' });
}

/**
 * Runs `work` while holding `file` (which names our pid). Other callers wait their turn, up to `waitMs`;
 * a lock left by a process that died no longer blocks. For set-up work that must happen once.
 */
export async function withPidLock<T>(file: string, work: () => Promise<T>, waitMs = 15 * 60_000): Promise<T> {
  const giveUp = Date.now() + waitMs;
  for (;;) {
    const attempt = await tryLock(file, `${process.pid}\n`, (text) => !holderAlive(text));
    if ('release' in attempt) {
      try {
        return await work();
      } finally {
        await attempt.release();
      }
    }
    if (Date.now() > giveUp) {
      throw new EksdError('LOCK_TIMEOUT', `${file} has been held by pid ${attempt.holder.trim()} for over ${Math.round(waitMs / 60_000)} minutes`, {
        where: file, hint: 'if that process hangs, stop it; a lock of a process that is gone is taken over by itself',
      });
    }
    await sleep(200);
  }
}

/** Removes the stale lock `text` from `file`, unless another process is doing that (then waits a little). */
async function takeOver(file: string, text: string, mine: string): Promise<void> {
  const guard = `${file}.takeover`;
  if (!(await createFileAtomic(guard, mine))) {
    const age = await stat(guard).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > GUARD_STALE_MS) await rm(guard, { force: true });
    else await sleep(20);
    return;
  }
  try {
    if ((await readIfExists(file)) === text) await rm(file, { force: true });
  } finally {
    await rm(guard, { force: true });
  }
}
