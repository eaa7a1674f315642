/**
 * Sends an announcement once per release. `<ledgerDir>/<release>.json` is written (atomically) right
 * after a successful publish; while it exists the release is not announced again unless `again` is
 * asked for. A failed publish leaves no entry. `<release>.lock` keeps two runs from publishing the same
 * release at the same time, and tells a later run when a publish was interrupted midway.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EksdError } from '../errors.ts';
import { holderAlive, tryLock } from '../util/pid-lock.ts';
import { readIfExists, writeFileAtomic } from '../util/fs-atomic.ts';
import { parseReleaseName } from '../release/naming.ts';
import type { Announcement, Announcer } from './types.ts';

export interface LedgerSend {
  messageId: string;
  announcer: string;
  at: string;
  /** 0 for the announcement, n for the n-th deliberate resend */
  resend: number;
}

export interface LedgerEntry {
  release: string;
  /** the latest send */
  messageId: string;
  announcer: string;
  at: string;
  sends: LedgerSend[];
}

export interface AnnounceOnceOptions {
  release: string;
  announcement: Announcement;
  announcer: Announcer;
  ledgerDir: string;
  /** send even though the ledger says it was sent (a deliberate resend) */
  again?: boolean;
  now?: () => Date;
}

export interface AnnounceOnceResult {
  skipped: boolean;
  messageId: string;
  /** 0 for the announcement, n for the n-th resend */
  resend: number;
}

export function ledgerPath(ledgerDir: string, release: string): string {
  return join(ledgerDir, `${release}.json`);
}

export async function readLedger(ledgerDir: string, release: string): Promise<LedgerEntry | undefined> {
  const path = ledgerPath(ledgerDir, release);
  const text = await readIfExists(path);
  if (text === undefined) return undefined;
  try {
    const entry = JSON.parse(text) as LedgerEntry;
    if (typeof entry.messageId !== 'string') throw new Error('no messageId');
    if (!Array.isArray(entry.sends)) entry.sends = [{ messageId: entry.messageId, announcer: entry.announcer, at: entry.at, resend: 0 }];
    return entry;
  } catch (cause) {
    throw new EksdError('ANNOUNCE_LEDGER', `announcement ledger ${path} is unreadable`, {
      where: path, hint: 'restore the file; deleting it makes the next run announce the release again', cause,
    });
  }
}

/**
 * Takes `<release>.lock`, naming our pid. A live holder is another run announcing now; a dead one was
 * interrupted while publishing and is taken over only when sending again was asked for.
 */
async function lock(ledgerDir: string, release: string, again: boolean): Promise<() => Promise<void>> {
  const path = join(ledgerDir, `${release}.lock`);
  const attempt = await tryLock(path, `${process.pid}\n`, (text) => again && !holderAlive(text));
  if ('release' in attempt) return attempt.release;
  if (holderAlive(attempt.holder)) {
    throw new EksdError('ANNOUNCE_LOCKED', `${release} is being announced by another process (pid ${attempt.holder.trim()})`, {
      where: path, hint: 'wait for the other run to finish',
    });
  }
  throw new EksdError('ANNOUNCE_INTERRUPTED', `an earlier announcement of ${release} stopped while publishing; it may or may not have been sent`, {
    where: path,
    hint: `check what subscribers received: if it arrived, record it with 'eksd announce ${release} --mark-sent'; if not, send it with 'eksd announce ${release} --again'`,
  });
}

export const MARKED_SENT = 'marked sent by hand';

/**
 * Records that the announcement of `release` reached subscribers, sending nothing: how a person settles
 * a send that was interrupted (its lock left by a process that is gone) after finding it delivered.
 * Returns false when the ledger already had it; `dryRun` checks without writing.
 */
export async function markSent(options: { release: string; ledgerDir: string; dryRun?: boolean; now?: () => Date }): Promise<boolean> {
  const { release, ledgerDir } = options;
  if (await readLedger(ledgerDir, release)) return false;
  const lockFile = join(ledgerDir, `${release}.lock`);
  if (!existsSync(lockFile)) {
    throw new EksdError('ANNOUNCE_NOT_INTERRUPTED', `no interrupted announcement of ${release} to settle: it was never sent`, {
      where: lockFile, hint: `announce it with 'eksd announce ${release}'`,
    });
  }
  if (options.dryRun) return true;
  const unlock = await lock(ledgerDir, release, true); // a live holder is still sending: ANNOUNCE_LOCKED
  try {
    if (await readLedger(ledgerDir, release)) return false;
    const send: LedgerSend = { messageId: 'unknown', announcer: MARKED_SENT, at: (options.now?.() ?? new Date()).toISOString(), resend: 0 };
    const entry: LedgerEntry = { release, messageId: send.messageId, announcer: send.announcer, at: send.at, sends: [send] };
    await writeFileAtomic(ledgerPath(ledgerDir, release), `${JSON.stringify(entry, null, 2)}\n`);
    return true;
  } finally {
    await unlock();
  }
}

export async function announceOnce(options: AnnounceOnceOptions): Promise<AnnounceOnceResult> {
  const { release, announcement, announcer, ledgerDir } = options;
  if (!parseReleaseName(release) || announcement.release !== release) {
    throw new EksdError('ANNOUNCE_FAILED', `announcement is for ${announcement.release}, asked to announce "${release}"`, {
      where: ledgerDir, hint: 'render the announcement from the release being announced',
    });
  }
  const before = await readLedger(ledgerDir, release);
  if (before && !options.again) return { skipped: true, messageId: before.messageId, resend: before.sends.at(-1)?.resend ?? 0 };

  await mkdir(ledgerDir, { recursive: true });
  const unlock = await lock(ledgerDir, release, options.again ?? false);
  try {
    const current = await readLedger(ledgerDir, release); // may have changed before we held the lock
    if (current && !options.again) return { skipped: true, messageId: current.messageId, resend: current.sends.at(-1)?.resend ?? 0 };
    const resend = current ? current.sends.length : 0;
    const { messageId } = await announcer.publish(announcement, { resend });
    const at = (options.now?.() ?? new Date()).toISOString();
    const send: LedgerSend = { messageId, announcer: announcer.describe(), at, resend };
    const entry: LedgerEntry = { release, messageId, announcer: send.announcer, at, sends: [...(current?.sends ?? []), send] };
    await writeFileAtomic(ledgerPath(ledgerDir, release), `${JSON.stringify(entry, null, 2)}\n`);
    return { skipped: false, messageId, resend };
  } finally {
    await unlock();
  }
}
