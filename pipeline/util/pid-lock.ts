/** Process liveness, and an exclusive lock file naming its holder's pid for work several processes may start. */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** True while a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `work` while holding `file`. Other callers wait their turn; a lock left by a process that died no
 * longer blocks. Meant for short set-up work that must happen once (starting services, fetching a file).
 */
export async function withPidLock<T>(file: string, work: () => Promise<T>, pollMs = 200): Promise<T> {
  mkdirSync(dirname(file), { recursive: true });
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readText(file).trim());
      // An empty file is a holder between creating and writing it; only a named, dead holder is stale.
      if (holder > 0 && !alive(holder)) rmSync(file, { force: true });
      else await sleep(pollMs);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(file, { force: true });
  }
}

function readText(file: string): string {
  try { return readFileSync(file, 'utf8'); } catch { return ''; }
}
