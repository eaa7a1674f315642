/**
 * One run at a time per channel: an exclusive lock file naming its holder. A lock whose holder process
 * is gone (same host, dead pid) is taken over; a live holder makes the second run fail fast.
 */
import { hostname } from 'node:os';
import { mkdir, open, readFile, rm, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { EksdError } from '../errors.ts';

interface Holder { pid: number; host: string; command: string; startedAt: string }

export interface Lock { release(): Promise<void> }

export async function acquireLock(stateDir: string, channel: string, command: string): Promise<Lock> {
  const dir = join(stateDir, 'locks');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${channel}.lock`);
  const me: Holder = { pid: process.pid, host: hostname(), command, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(JSON.stringify(me));
      await handle.sync();
      await handle.close();
      return { release: () => rm(file, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readHolder(file);
    if (holder && (holder.host !== me.host || alive(holder.pid))) {
      throw new EksdError('RUN_LOCKED', `channel ${channel} is locked by pid ${holder.pid} on ${holder.host} (${holder.command}, since ${holder.startedAt})`, {
        where: file, hint: 'wait for that run to finish; if it is gone from another host, delete the lock file',
      });
    }
    // Stale: move it aside atomically so two processes taking over cannot both win.
    await rename(file, `${file}.stale.${process.pid}`).catch(() => undefined);
    await rm(`${file}.stale.${process.pid}`, { force: true });
  }
  throw new EksdError('RUN_LOCKED', `could not take the lock for channel ${channel}`, { where: file, hint: 'retry' });
}

async function readHolder(file: string): Promise<Holder | undefined> {
  try { return JSON.parse(await readFile(file, 'utf8')) as Holder; } catch { return undefined; }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}
