import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { announceOnce, ledgerKey, markSent, readLedger } from '../pipeline/announce/once.ts';
import { DirStore } from '../pipeline/store/dir.ts';
import { hostname } from 'node:os';
import { spawn } from 'node:child_process';
import { OutboxAnnouncer } from '../pipeline/announce/outbox.ts';
import { renderAnnouncement } from '../pipeline/announce/render.ts';
import type { Announcement, Announcer } from '../pipeline/announce/types.ts';
import { EksdError, isEksdError } from '../pipeline/errors.ts';
import { buildRelease } from '../pipeline/release/manifest.ts';

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');
const release = buildRelease({
  channel: '1-33', number: 2, date: '2025-06-02T12:00:00Z', siteBaseUrl: 'https://distro.example.test',
  components: [{
    name: 'coredns', gitTag: 'v1.11.4', archives: [],
    images: [{ name: 'coredns', repository: 'coredns/coredns', uri: '127.0.0.1:5000/coredns/coredns:v1.11.4-eks-1-33-2', digest: `sha256:${hex('c')}`, description: 'coredns container image', platforms: ['linux/amd64', 'linux/arm64'] }],
  }],
});
const announcement = renderAnnouncement(release, { manifestUrl: 'https://distro.example.test/kubernetes-1-33/kubernetes-1-33-eks-2.yaml' });
const RELEASE = 'kubernetes-1-33-eks-2';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'eksd-outbox-'));
  dirs.push(d);
  return d;
}
/** The pid of another process that runs until the test ends. */
function liveProcess(t: { teardown: (f: () => void) => void }): number {
  const child = spawn('sleep', ['120'], { stdio: 'ignore' });
  t.teardown(() => { child.kill(); });
  return child.pid!;
}

/** The ledger entries in a state directory. */
async function entries(state: string): Promise<string[]> {
  return readdir(join(state, 'announcements')).catch(() => []);
}

/** A ledger entry left "sending" by process `pid` on this host (a send in progress, or interrupted if it is gone). */
async function sending(state: string, pid: number): Promise<void> {
  await new DirStore(state).put(ledgerKey(RELEASE), JSON.stringify({ release: RELEASE, state: 'sending', sender: { host: hostname(), pid, at: new Date().toISOString() }, sends: [] }));
}

test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

test('outbox writes the exact SNS request and returns a deterministic id', async (t) => {
  const dir = await tempDir();
  const outbox = new OutboxAnnouncer(dir);
  const { messageId } = await outbox.publish(announcement);
  const text = await readFile(join(dir, `${RELEASE}.json`), 'utf8');
  const expected = `${JSON.stringify({
    Subject: 'EKS Distro kubernetes-1-33-eks-2 released',
    Message: announcement.message,
    MessageStructure: 'json',
    MessageAttributes: {
      channel: { DataType: 'String', StringValue: '1-33' },
      number: { DataType: 'Number', StringValue: '2' },
      release: { DataType: 'String', StringValue: RELEASE },
      event: { DataType: 'String', StringValue: 'release' },
    },
  }, null, 2)}\n`;
  t.is(text, expected);
  t.is(messageId, `outbox-${hex(expected).slice(0, 16)}`);
  t.is((await outbox.publish(announcement)).messageId, messageId, 'same message, same id');
  t.is(outbox.describe(), `outbox ${dir}`);

  const fifo = new OutboxAnnouncer(dir, { topicArn: 'arn:aws:sns:us-east-1:123456789012:updates.fifo' });
  await fifo.publish(announcement, { resend: 2 });
  const again = JSON.parse(await readFile(join(dir, `${RELEASE}.2.json`), 'utf8')) as Record<string, unknown>;
  t.like(again, { TopicArn: 'arn:aws:sns:us-east-1:123456789012:updates.fifo', MessageGroupId: '1-33', MessageDeduplicationId: `${RELEASE}-again-2` });
});

test('announceOnce through the outbox: once, then again as <release>.<n>.json', async (t) => {
  const out = await tempDir();
  const ledger = await tempDir();
  const outbox = new OutboxAnnouncer(out);
  const a = await announceOnce({ release: RELEASE, announcement, announcer: outbox, state: new DirStore(ledger) });
  const b = await announceOnce({ release: RELEASE, announcement, announcer: outbox, state: new DirStore(ledger) });
  t.false(a.skipped);
  t.deepEqual(b, { skipped: true, messageId: a.messageId, resend: 0 });
  t.deepEqual(await readdir(out), [`${RELEASE}.json`]);
  const c = await announceOnce({ release: RELEASE, announcement, announcer: outbox, state: new DirStore(ledger), again: true });
  t.is(c.resend, 1);
  t.deepEqual((await readdir(out)).sort(), [`${RELEASE}.1.json`, `${RELEASE}.json`]);
  t.deepEqual(await entries(ledger), [`${RELEASE}.json`]);
  const entry = await readLedger(new DirStore(ledger), RELEASE);
  t.is(entry?.announcer, `outbox ${out}`);
  t.is(entry?.sends.length, 2);
});

test('an announcer that refused (ANNOUNCE_FAILED) leaves no ledger entry; a later run sends', async (t) => {
  const ledger = await tempDir();
  let calls = 0;
  const flaky: Announcer = {
    describe: () => 'flaky',
    publish: async (_m: Announcement) => {
      calls++;
      if (calls === 1) throw new EksdError('ANNOUNCE_FAILED', 'refused: topic not found');
      return { messageId: 'm-2' };
    },
  };
  await t.throwsAsync(announceOnce({ release: RELEASE, announcement, announcer: flaky, state: new DirStore(ledger) }), { message: 'refused: topic not found' });
  t.deepEqual(await entries(ledger), []);
  const ok = await announceOnce({ release: RELEASE, announcement, announcer: flaky, state: new DirStore(ledger) });
  t.deepEqual(ok, { skipped: false, messageId: 'm-2', resend: 0 });
});

test('any other announcer failure may have sent the message: ANNOUNCE_INTERRUPTED, the entry stays sending', async (t) => {
  const ledger = await tempDir();
  let calls = 0;
  const lost: Announcer = { describe: () => 'lost', publish: async () => { calls++; throw new Error('network down'); } };
  const e = await t.throwsAsync(announceOnce({ release: RELEASE, announcement, announcer: lost, state: new DirStore(ledger) }));
  t.true(isEksdError(e, 'ANNOUNCE_INTERRUPTED'), String(e));
  t.regex(e!.message, /may or may not have been sent: network down/);
  t.is((await readLedger(new DirStore(ledger), RELEASE))?.state, 'sending');
  t.true(isEksdError(await t.throwsAsync(announceOnce({ release: RELEASE, announcement, announcer: lost, state: new DirStore(ledger) })), 'ANNOUNCE_INTERRUPTED'));
  t.is(calls, 1, 'not sent again blindly');
});

test('a concurrent or interrupted announcement is not sent blindly', async (t) => {
  const ledger = await tempDir();
  const outbox = new OutboxAnnouncer(await tempDir());
  await sending(ledger, liveProcess(t));
  t.true(isEksdError(await t.throwsAsync(announceOnce({ release: RELEASE, announcement, announcer: outbox, state: new DirStore(ledger) })), 'ANNOUNCE_LOCKED'));

  await sending(ledger, 2147483646); // no such process
  const e = await t.throwsAsync(announceOnce({ release: RELEASE, announcement, announcer: outbox, state: new DirStore(ledger) }));
  t.true(isEksdError(e, 'ANNOUNCE_INTERRUPTED'));
  t.regex((e as { hint?: string }).hint ?? '', /--mark-sent[\s\S]*--again/);
  const forced = await announceOnce({ release: RELEASE, announcement, announcer: outbox, state: new DirStore(ledger), again: true });
  t.false(forced.skipped);
  t.deepEqual(await entries(ledger), [`${RELEASE}.json`]);
});

test('the announcement must belong to the release', async (t) => {
  const e = await t.throwsAsync(announceOnce({ release: 'kubernetes-1-33-eks-3', announcement, announcer: new OutboxAnnouncer(await tempDir()), state: new DirStore(await tempDir()) }));
  t.true(isEksdError(e, 'ANNOUNCE_FAILED'));
});

test('--mark-sent settles only an interrupted send, never one in progress, and writes nothing on a dry run', async (t) => {
  const ledger = await tempDir();
  const never = await t.throwsAsync(markSent({ release: RELEASE, state: new DirStore(ledger) }));
  t.true(isEksdError(never, 'ANNOUNCE_NOT_INTERRUPTED'), 'a release never sent cannot be marked sent');
  await sending(ledger, liveProcess(t));
  t.true(isEksdError(await t.throwsAsync(markSent({ release: RELEASE, state: new DirStore(ledger) })), 'ANNOUNCE_LOCKED'), 'a live sender is not overruled');
  await sending(ledger, 2147483646); // no such process
  t.true(await markSent({ release: RELEASE, state: new DirStore(ledger), dryRun: true }));
  t.is((await readLedger(new DirStore(ledger), RELEASE))?.state, 'sending', 'the dry run wrote nothing');
  t.true(await markSent({ release: RELEASE, state: new DirStore(ledger) }));
  t.deepEqual(await entries(ledger), [`${RELEASE}.json`]);
  t.like(await readLedger(new DirStore(ledger), RELEASE), { messageId: 'unknown', announcer: 'marked sent by hand' });
  t.false(await markSent({ release: RELEASE, state: new DirStore(ledger) }), 'already recorded');
  const outbox = new OutboxAnnouncer(await tempDir());
  t.true((await announceOnce({ release: RELEASE, announcement, announcer: outbox, state: new DirStore(ledger) })).skipped, 'and not sent afterwards');
});

test('a ledger entry in the earlier layout (no state) counts as sent: it is not announced again', async (t) => {
  const ledger = await tempDir();
  const outbox = new OutboxAnnouncer(await tempDir());
  await new DirStore(ledger).put(ledgerKey(RELEASE), JSON.stringify({ release: RELEASE, messageId: 'm-1', announcer: 'sns arn', at: '2025-06-02T12:00:00Z' }));
  t.like(await readLedger(new DirStore(ledger), RELEASE), { state: 'sent', messageId: 'm-1', sends: [{ messageId: 'm-1', resend: 0 }] });
  t.deepEqual(await announceOnce({ release: RELEASE, announcement, announcer: outbox, state: new DirStore(ledger) }), { skipped: true, messageId: 'm-1', resend: 0 });
  t.deepEqual(await readdir(outbox.dir), [], 'nothing sent');
});
