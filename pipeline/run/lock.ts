/**
 * One run at a time per channel: an exclusive lock file naming its holder. A lock whose holder process
 * is gone (same host, dead pid) is taken over; a live holder makes the second run fail fast.
 *
 * The lock file appears with its content at once (written to a temp file, then hard-linked into place,
 * which fails if it exists), so a reader never mistakes a lock being written for a stale one. Taking
 * over a stale lock is serialized by a second file (`<lock>.takeover`): of several runs that find the
 * same dead holder, one removes the stale lock, and only if it is still the one it judged stale.
 */
import { hostname } from 'node:os';
import { link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EksdError } from '../errors.ts';
import { alive } from '../util/pid-lock.ts';

interface Holder { pid: number; host: string; command: string; startedAt: string }

export interface Lock { release(): Promise<void> }

/** A takeover guard older than this was left by a run killed while taking over. */
const GUARD_STALE_MS = 10_000;

export async function acquireLock(stateDir: string, channel: string, command: string): Promise<Lock> {
  const dir = join(stateDir, 'locks');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${channel}.lock`);
  const me: Holder = { pid: process.pid, host: hostname(), command, startedAt: new Date().toISOString() };
  const mine = JSON.stringify(me);
  const deadline = Date.now() + 2 * GUARD_STALE_MS;
  while (Date.now() < deadline) {
    if (await createWith(file, mine)) {
      return { release: async () => { if ((await readText(file)) === mine) await rm(file, { force: true }); } };
    }
    const text = await readText(file);
    if (text === undefined) continue; // released in the meantime
    const holder = parseHolder(text);
    if (holder && (holder.host !== me.host || alive(holder.pid))) {
      throw new EksdError('RUN_LOCKED', `channel ${channel} is locked by pid ${holder.pid} on ${holder.host} (${holder.command}, since ${holder.startedAt})`, {
        where: file, hint: 'wait for that run to finish; if it is gone from another host, delete the lock file',
      });
    }
    await takeOver(file, text, mine);
  }
  throw new EksdError('RUN_LOCKED', `could not take the lock for channel ${channel}: another run keeps taking over a stale lock`, { where: file, hint: 'retry' });
}

/** Removes the stale lock `text` from `file`, unless another run is doing that (then waits a little). */
async function takeOver(file: string, text: string, mine: string): Promise<void> {
  const guard = `${file}.takeover`;
  if (!(await createWith(guard, mine))) {
    const age = await stat(guard).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > GUARD_STALE_MS) await rm(guard, { force: true });
    else await sleep(20);
    return;
  }
  try {
    if ((await readText(file)) === text) await rm(file, { force: true });
  } finally {
    await rm(guard, { force: true });
  }
}

/** Creates `file` with `content` if it does not exist; false if it does. */
async function createWith(file: string, content: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, content, { flush: true });
  try {
    await link(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}

async function readText(file: string): Promise<string | undefined> {
  try { return await readFile(file, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The holder a lock file names; undefined when unreadable (left by an older run killed mid-write). */
function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Holder;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? h : undefined;
  } catch { return undefined; }
}
