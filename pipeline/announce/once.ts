/**
 * Sends an announcement once per release, across machines: the ledger entry
 * `announcements/<release>.json` in the state store is written "sending" (create-only, or conditional
 * on the version read) before the publish and "sent" after it. A "sending" entry found later means a
 * send that stopped midway — a crash, a timeout, a reply lost after SNS may have accepted the message —
 * and is never resent blindly: ANNOUNCE_INTERRUPTED names the two ways out (`--mark-sent` when it
 * arrived, `--again` when it did not). Only a publish the announcer reports as refused (ANNOUNCE_FAILED:
 * the service said no, or nothing left this machine) takes its "sending" entry back, so the next run
 * sends; any other failure leaves "sending" and stops with ANNOUNCE_INTERRUPTED.
 */
import { hostname } from 'node:os';
import { EksdError, isEksdError } from '../errors.ts';
import { isPrecondition, type Store } from '../store/store.ts';
import { alive } from '../util/pid-lock.ts';
import { isAnnouncementName } from '../release/naming.ts';
import { REFUSED, type Announcement, type Announcer } from './types.ts';

export interface LedgerSend {
  messageId: string;
  announcer: string;
  at: string;
  /** 0 for the announcement, n for the n-th deliberate resend */
  resend: number;
}

export interface LedgerEntry {
  release: string;
  state: 'sending' | 'sent';
  /** the process sending, while state is sending */
  sender?: { host: string; pid: number; at: string };
  /** the latest completed send */
  messageId?: string;
  announcer?: string;
  at?: string;
  sends: LedgerSend[];
}

export interface AnnounceOnceOptions {
  release: string;
  announcement: Announcement;
  announcer: Announcer;
  /** the state store holding the ledger */
  state: Store;
  /** send even though the ledger says it was sent, or that a send was interrupted (a deliberate resend) */
  again?: boolean;
  now?: () => Date;
}

export interface AnnounceOnceResult {
  skipped: boolean;
  messageId: string;
  /** 0 for the announcement, n for the n-th resend */
  resend: number;
}

export const ledgerKey = (release: string): string => `announcements/${release}.json`;

interface Read { entry: LedgerEntry; etag: string }

export async function readLedger(state: Store, release: string): Promise<LedgerEntry | undefined> {
  return (await read(state, release))?.entry;
}

async function read(state: Store, release: string): Promise<Read | undefined> {
  const found = await state.get(ledgerKey(release));
  if (!found) return undefined;
  const where = state.where(ledgerKey(release));
  try {
    const entry = fromEarlierLayout(JSON.parse(found.bytes.toString('utf8')) as LedgerEntry);
    if (!Array.isArray(entry.sends) || (entry.state !== 'sending' && entry.state !== 'sent')) throw new Error('no state or sends');
    return { entry, etag: found.etag };
  } catch (cause) {
    throw new EksdError('ANNOUNCE_LEDGER', `announcement ledger ${where} is unreadable: ${(cause as Error).message}`, {
      where, hint: 'restore the object from a backup or fix it by hand; deleting it makes the next run announce the release again', cause,
    });
  }
}

/** An entry written before entries had a state was written after its send: it is a sent one. */
function fromEarlierLayout(entry: LedgerEntry): LedgerEntry {
  if (entry.state !== undefined || typeof entry.messageId !== 'string') return entry;
  const first: LedgerSend = { messageId: entry.messageId, announcer: entry.announcer ?? '', at: entry.at ?? '', resend: 0 };
  return { ...entry, state: 'sent', sends: Array.isArray(entry.sends) ? entry.sends : [first] };
}

const text = (e: LedgerEntry): string => `${JSON.stringify(e, null, 2)}\n`;

function interrupted(release: string, where: string, entry: LedgerEntry): EksdError {
  const s = entry.sender;
  if (s && s.host === hostname() && s.pid !== process.pid && alive(s.pid)) {
    return new EksdError('ANNOUNCE_LOCKED', `${release} is being announced by another process (pid ${s.pid})`, { where, hint: 'wait for the other run to finish' });
  }
  return new EksdError('ANNOUNCE_INTERRUPTED', `an earlier announcement of ${release} stopped while publishing${s ? ` (pid ${s.pid} on ${s.host}, ${s.at})` : ''}; it may or may not have been sent`, {
    where,
    hint: `check what subscribers received: if it arrived, record it with 'eksd announce ${release} --mark-sent'; if not, send it with 'eksd announce ${release} --again'`,
  });
}

/** Writes `entry`, create-only when there was none, else only over the version read. */
async function write(state: Store, release: string, entry: LedgerEntry, over: Read | undefined): Promise<string> {
  try {
    return await state.put(ledgerKey(release), text(entry), over ? { ifMatch: over.etag } : { ifNoneMatch: true });
  } catch (e) {
    if (!isPrecondition(e)) throw e;
    const now = await read(state, release);
    if (now && text(now.entry) === text(entry)) return now.etag; // our own write, its reply lost
    throw new EksdError('ANNOUNCE_LOCKED', `the ledger of ${release} changed while this run was writing it: another run is announcing it`, {
      where: state.where(ledgerKey(release)), hint: 'wait for the other run to finish, then check the ledger', cause: e,
    });
  }
}

export const MARKED_SENT = 'marked sent by hand';

/**
 * Records that the interrupted announcement of `release` reached subscribers, sending nothing. Returns
 * false when the ledger already had it as sent; `dryRun` checks without writing.
 */
export async function markSent(options: { release: string; state: Store; dryRun?: boolean; now?: () => Date }): Promise<boolean> {
  const { release, state } = options;
  const where = state.where(ledgerKey(release));
  const before = await read(state, release);
  if (before?.entry.state === 'sent') return false;
  if (!before) {
    throw new EksdError('ANNOUNCE_NOT_INTERRUPTED', `no interrupted announcement of ${release} to settle: it was never sent`, {
      where, hint: `announce it with 'eksd announce ${release}'`,
    });
  }
  const live = interrupted(release, where, before.entry);
  if (live.code === 'ANNOUNCE_LOCKED') throw live;
  if (options.dryRun) return true;
  const send: LedgerSend = { messageId: 'unknown', announcer: MARKED_SENT, at: (options.now?.() ?? new Date()).toISOString(), resend: before.entry.sends.length };
  await write(state, release, sent(before.entry, send), before);
  return true;
}

function sent(entry: LedgerEntry, send: LedgerSend): LedgerEntry {
  const { sender: _sender, ...rest } = entry;
  return { ...rest, state: 'sent', messageId: send.messageId, announcer: send.announcer, at: send.at, sends: [...entry.sends, send] };
}

export async function announceOnce(options: AnnounceOnceOptions): Promise<AnnounceOnceResult> {
  const { release, announcement, announcer, state } = options;
  const where = state.where(ledgerKey(release));
  if (!isAnnouncementName(release) || announcement.release !== release) {
    throw new EksdError('ANNOUNCE_FAILED', `announcement is for ${announcement.release}, asked to announce "${release}"`, {
      where, hint: 'render the announcement from the release being announced',
    });
  }
  const before = await read(state, release);
  if (before?.entry.state === 'sent' && !options.again) {
    return { skipped: true, messageId: before.entry.messageId ?? '', resend: before.entry.sends.at(-1)?.resend ?? 0 };
  }
  if (before?.entry.state === 'sending' && (!options.again || interrupted(release, where, before.entry).code === 'ANNOUNCE_LOCKED')) {
    throw interrupted(release, where, before.entry);
  }
  const now = () => (options.now?.() ?? new Date()).toISOString();
  const resend = before ? before.entry.sends.length : 0;
  const sending: LedgerEntry = { ...(before?.entry ?? { release, sends: [] }), state: 'sending', sender: { host: hostname(), pid: process.pid, at: now() } };
  const sendingEtag = await write(state, release, sending, before);
  const mine: Read = { entry: sending, etag: sendingEtag };
  let messageId: string;
  try {
    ({ messageId } = await announcer.publish(announcement, { resend }));
  } catch (e) {
    if (!isEksdError(e, REFUSED)) throw uncertain(release, where, e);
    await undo(state, release, before, mine);
    throw e;
  }
  const send: LedgerSend = { messageId, announcer: announcer.describe(), at: now(), resend };
  await recordSent(state, release, sent(sending, send), mine);
  return { skipped: false, messageId, resend };
}

/** The send definitely failed: the ledger goes back to what it was, so a later run sends. */
async function undo(state: Store, release: string, before: Read | undefined, mine: Read): Promise<void> {
  if (before) await state.put(ledgerKey(release), text(before.entry), { ifMatch: mine.etag });
  else await state.delete(ledgerKey(release), { ifMatch: mine.etag });
}

/** The message went out: record it, retrying a few times; if the ledger cannot be written, say how to settle it. */
async function recordSent(state: Store, release: string, entry: LedgerEntry, mine: Read): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      await write(state, release, entry, mine);
      return;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    }
  }
  throw new EksdError('ANNOUNCE_INTERRUPTED', `${release} was announced (message ${entry.messageId}), but the ledger ${state.where(ledgerKey(release))} could not record it: ${(last as Error).message}`, {
    where: state.where(ledgerKey(release)), hint: `record it with 'eksd announce ${release} --mark-sent' once the store is writable; do not send it again`, cause: last,
  });
}

/** Anything but a refusal: the message may have gone out, so the entry stays "sending". */
function uncertain(release: string, where: string, cause: unknown): EksdError {
  return new EksdError('ANNOUNCE_INTERRUPTED', `the announcement of ${release} may or may not have been sent: ${(cause as Error).message}`, {
    where,
    hint: `check what subscribers received: if it arrived, record it with 'eksd announce ${release} --mark-sent'; if not, send it with 'eksd announce ${release} --again'`,
    cause,
  });
}

