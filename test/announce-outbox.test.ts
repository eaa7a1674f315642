import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { announceOnce, markSent, readLedger } from '../pipeline/announce/once.ts';
import { OutboxAnnouncer } from '../pipeline/announce/outbox.ts';
import { renderAnnouncement } from '../pipeline/announce/render.ts';
import type { Announcement, Announcer } from '../pipeline/announce/types.ts';
import { isEksdError } from '../pipeline/errors.ts';
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
  const a = await announceOnce({ release: RELEASE, announcement, announcer: outbox, ledgerDir: ledger });
  const b = await announceOnce({ release: RELEASE, announcement, announcer: outbox, ledgerDir: ledger });
  t.false(a.skipped);
  t.deepEqual(b, { skipped: true, messageId: a.messageId, resend: 0 });
  t.deepEqual(await readdir(out), [`${RELEASE}.json`]);
  const c = await announceOnce({ release: RELEASE, announcement, announcer: outbox, ledgerDir: ledger, again: true });
  t.is(c.resend, 1);
  t.deepEqual((await readdir(out)).sort(), [`${RELEASE}.1.json`, `${RELEASE}.json`]);
  t.deepEqual(await readdir(ledger), [`${RELEASE}.json`]);
  const entry = await readLedger(ledger, RELEASE);
  t.is(entry?.announcer, `outbox ${out}`);
  t.is(entry?.sends.length, 2);
});

test('a failing announcer leaves no ledger entry; a later run sends', async (t) => {
  const ledger = await tempDir();
  let calls = 0;
  const flaky: Announcer = {
    describe: () => 'flaky',
    publish: async (_m: Announcement) => {
      calls++;
      if (calls === 1) throw new Error('network down');
      return { messageId: 'm-2' };
    },
  };
  await t.throwsAsync(announceOnce({ release: RELEASE, announcement, announcer: flaky, ledgerDir: ledger }), { message: 'network down' });
  t.deepEqual(await readdir(ledger), []);
  const ok = await announceOnce({ release: RELEASE, announcement, announcer: flaky, ledgerDir: ledger });
  t.deepEqual(ok, { skipped: false, messageId: 'm-2', resend: 0 });
});

test('a concurrent or interrupted announcement is not sent blindly', async (t) => {
  const ledger = await tempDir();
  const outbox = new OutboxAnnouncer(await tempDir());
  await writeFile(join(ledger, `${RELEASE}.lock`), `${process.pid}\n`);
  t.true(isEksdError(await t.throwsAsync(announceOnce({ release: RELEASE, announcement, announcer: outbox, ledgerDir: ledger })), 'ANNOUNCE_LOCKED'));

  await writeFile(join(ledger, `${RELEASE}.lock`), '2147483646\n'); // no such process
  const e = await t.throwsAsync(announceOnce({ release: RELEASE, announcement, announcer: outbox, ledgerDir: ledger }));
  t.true(isEksdError(e, 'ANNOUNCE_INTERRUPTED'));
  t.regex((e as { hint?: string }).hint ?? '', /--mark-sent[\s\S]*--again/);
  const forced = await announceOnce({ release: RELEASE, announcement, announcer: outbox, ledgerDir: ledger, again: true });
  t.false(forced.skipped);
  t.deepEqual(await readdir(ledger), [`${RELEASE}.json`]);
});

test('the announcement must belong to the release', async (t) => {
  const e = await t.throwsAsync(announceOnce({ release: 'kubernetes-1-33-eks-3', announcement, announcer: new OutboxAnnouncer(await tempDir()), ledgerDir: await tempDir() }));
  t.true(isEksdError(e, 'ANNOUNCE_FAILED'));
});

test('--mark-sent settles only an interrupted send, never one in progress, and writes nothing on a dry run', async (t) => {
  const ledger = await tempDir();
  const never = await t.throwsAsync(markSent({ release: RELEASE, ledgerDir: ledger }));
  t.true(isEksdError(never, 'ANNOUNCE_NOT_INTERRUPTED'), 'a release never sent cannot be marked sent');
  await writeFile(join(ledger, `${RELEASE}.lock`), `${process.pid}\n`);
  t.true(isEksdError(await t.throwsAsync(markSent({ release: RELEASE, ledgerDir: ledger })), 'ANNOUNCE_LOCKED'), 'a live sender is not overruled');
  await writeFile(join(ledger, `${RELEASE}.lock`), '2147483646\n'); // no such process
  t.true(await markSent({ release: RELEASE, ledgerDir: ledger, dryRun: true }));
  t.deepEqual(await readdir(ledger), [`${RELEASE}.lock`], 'the dry run wrote nothing');
  t.true(await markSent({ release: RELEASE, ledgerDir: ledger }));
  t.deepEqual(await readdir(ledger), [`${RELEASE}.json`]);
  t.like(await readLedger(ledger, RELEASE), { messageId: 'unknown', announcer: 'marked sent by hand' });
  t.false(await markSent({ release: RELEASE, ledgerDir: ledger }), 'already recorded');
  const outbox = new OutboxAnnouncer(await tempDir());
  t.true((await announceOnce({ release: RELEASE, announcement, announcer: outbox, ledgerDir: ledger })).skipped, 'and not sent afterwards');
});
