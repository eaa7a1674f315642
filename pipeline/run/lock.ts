/**
 * One run at a time per channel: an exclusive lock file naming its holder (see util/pid-lock.ts for how
 * it is created and taken over). A lock whose holder process is gone (same host, dead pid) is taken
 * over; a live holder makes the second run fail fast.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EksdError } from '../errors.ts';
import { alive, tryLock } from '../util/pid-lock.ts';

interface Holder { pid: number; host: string; command: string; startedAt: string }

export interface Lock { release(): Promise<void> }

export async function acquireLock(stateDir: string, channel: string, command: string): Promise<Lock> {
  const file = join(stateDir, 'locks', `${channel}.lock`);
  const me: Holder = { pid: process.pid, host: hostname(), command, startedAt: new Date().toISOString() };
  const stale = (text: string): boolean => {
    const holder = parseHolder(text);
    return !holder || (holder.host === me.host && !alive(holder.pid));
  };
  const attempt = await tryLock(file, JSON.stringify(me), stale).catch((e: unknown) => {
    throw new EksdError('RUN_LOCKED', `could not take the lock for channel ${channel}: ${(e as Error).message}`, { where: file, hint: 'retry', cause: e });
  });
  if ('release' in attempt) return attempt;
  const holder = parseHolder(attempt.holder)!;
  throw new EksdError('RUN_LOCKED', `channel ${channel} is locked by pid ${holder.pid} on ${holder.host} (${holder.command}, since ${holder.startedAt})`, {
    where: file, hint: 'wait for that run to finish; if it is gone from another host, delete the lock file',
  });
}

/** The holder a lock file names; undefined when unreadable (left by an older run killed mid-write). */
function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Holder;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? h : undefined;
  } catch { return undefined; }
}
