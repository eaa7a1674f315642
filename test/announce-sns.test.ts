import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { announceOnce, markSent, readLedger } from '../pipeline/announce/once.ts';
import { UNCERTAIN } from '../pipeline/announce/types.ts';
import { DirStore } from '../pipeline/store/dir.ts';
import { renderAnnouncement } from '../pipeline/announce/render.ts';
import { SnsAnnouncer } from '../pipeline/announce/sns.ts';
import { isEksdError } from '../pipeline/errors.ts';
import { buildRelease } from '../pipeline/release/manifest.ts';
import { FakeSns, type ReplyFault } from './helpers/fake-sns.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:eks-distro-updates';
const FIFO = 'arn:aws:sns:us-east-1:123456789012:eks-distro-updates.fifo';
const MISSING = 'arn:aws:sns:us-east-1:123456789012:no-such-topic';
const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

const release = buildRelease({
  channel: '1-33', number: 18, date: '2025-06-18T12:00:00Z', siteBaseUrl: 'https://distro.eks.amazonaws.com',
  components: [{
    name: 'etcd', gitTag: 'v3.5.21', archives: [],
    images: [{ name: 'etcd', repository: 'etcd-io/etcd', uri: 'public.ecr.aws/eks-distro/etcd-io/etcd:v3.5.21-eks-1-33-18', digest: `sha256:${hex('etcd')}`, description: 'etcd container image', platforms: ['linux/amd64', 'linux/arm64'] }],
  }],
});
const announcement = renderAnnouncement(release, { manifestUrl: 'https://distro.eks.amazonaws.com/kubernetes-1-33/kubernetes-1-33-eks-18.yaml' });

const sns = new FakeSns([TOPIC, FIFO]);
const dirs: string[] = [];
test.before(async () => { await sns.start(); });
test.after.always(async () => {
  await sns.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function ledgerDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'eksd-ledger-'));
  dirs.push(d);
  return d;
}
const announcer = (topicArn: string, extra: { requestTimeoutMs?: number } = {}): SnsAnnouncer => new SnsAnnouncer({ topicArn, ...sns.clientOptions(), ...extra });
const published = (topic: string) => sns.publishes.filter((p) => p.TopicArn === topic);

test.serial('publish sends subject, JSON message structure and typed attributes', async (t) => {
  const { messageId } = await announcer(TOPIC).publish(announcement);
  const sent = published(TOPIC).at(-1)!;
  t.is(sent.MessageId, messageId);
  t.is(sent.Subject, 'EKS Distro kubernetes-1-33-eks-18 released');
  t.is(sent.MessageStructure, 'json');
  t.is(sent.Message, announcement.message);
  const body = JSON.parse(sent.Message) as { default: string; email: string; sqs: string };
  t.is(body.default, announcement.text);
  t.deepEqual(JSON.parse(body.sqs), announcement.json);
  t.deepEqual(sent.MessageAttributes, {
    channel: { DataType: 'String', StringValue: '1-33' },
    number: { DataType: 'Number', StringValue: '18' },
    release: { DataType: 'String', StringValue: 'kubernetes-1-33-eks-18' },
    event: { DataType: 'String', StringValue: 'release' },
  });
  t.is(sent.MessageGroupId, undefined);
  t.is(sent.MessageDeduplicationId, undefined);
});

test.serial('FIFO topics get the channel as group and the release as deduplication id', async (t) => {
  const a = announcer(FIFO);
  const first = await a.publish(announcement);
  t.like(published(FIFO).at(-1), { MessageGroupId: '1-33', MessageDeduplicationId: 'kubernetes-1-33-eks-18', MessageId: first.messageId });
  const dup = await a.publish(announcement);
  t.is(dup.messageId, first.messageId, 'SNS deduplicates a plain re-send');
  t.is(sns.duplicates.length, 1);
  await a.publish(announcement, { resend: 1 });
  t.like(published(FIFO).at(-1), { MessageDeduplicationId: 'kubernetes-1-33-eks-18-again-1' });
});

test.serial('unknown topic: ANNOUNCE_FAILED naming the topic, no ledger entry; later sends', async (t) => {
  const dir = await ledgerDir();
  const e = await t.throwsAsync(announceOnce({ release: announcement.release, announcement, announcer: announcer(MISSING), state: new DirStore(dir) }));
  t.true(isEksdError(e, 'ANNOUNCE_FAILED'));
  t.is((e as { where?: string }).where, MISSING);
  t.regex(e!.message, /NotFound.*Topic does not exist/);
  t.regex((e as { hint?: string }).hint ?? '', /topic does not exist/);
  t.deepEqual(await readdir(join(dir, 'announcements')).catch(() => [] as string[]), [], 'no ledger entry left');

  sns.topics.add(MISSING);
  const ok = await announceOnce({ release: announcement.release, announcement, announcer: announcer(MISSING), state: new DirStore(dir) });
  t.false(ok.skipped);
  t.is(published(MISSING).length, 1);
  t.is((await readLedger(new DirStore(dir), announcement.release))?.messageId, ok.messageId);
});

test.serial('announceOnce sends once; again sends again and records it', async (t) => {
  const dir = await ledgerDir();
  const before = published(TOPIC).length;
  const at = new Date('2025-06-18T12:30:00Z');
  const first = await announceOnce({ release: announcement.release, announcement, announcer: announcer(TOPIC), state: new DirStore(dir), now: () => at });
  const second = await announceOnce({ release: announcement.release, announcement, announcer: announcer(TOPIC), state: new DirStore(dir) });
  t.false(first.skipped);
  t.true(second.skipped);
  t.is(second.messageId, first.messageId);
  t.is(published(TOPIC).length, before + 1);
  const entry = await readLedger(new DirStore(dir), announcement.release);
  t.like(entry, { release: 'kubernetes-1-33-eks-18', messageId: first.messageId, announcer: `sns ${TOPIC}`, at: '2025-06-18T12:30:00.000Z' });

  const third = await announceOnce({ release: announcement.release, announcement, announcer: announcer(TOPIC), state: new DirStore(dir), again: true });
  t.false(third.skipped);
  t.is(third.resend, 1);
  t.not(third.messageId, first.messageId);
  t.is(published(TOPIC).length, before + 2);
  t.deepEqual((await readLedger(new DirStore(dir), announcement.release))?.sends.map((s) => s.resend), [0, 1]);
});

test.serial('authorization and server errors map to ANNOUNCE_FAILED with a hint', async (t) => {
  sns.failNext({ status: 403, code: 'AuthorizationError', message: 'User is not authorized to perform SNS:Publish' });
  const auth = await t.throwsAsync(announcer(TOPIC).publish(announcement));
  t.true(isEksdError(auth, 'ANNOUNCE_FAILED'));
  t.regex((auth as { hint?: string }).hint ?? '', /sns:Publish/);

  // A 5xx may come after SNS accepted the message: never retried, reported as uncertain.
  sns.failNext({ status: 500, code: 'InternalError', message: 'boom', type: 'Receiver' });
  const requests = sns.actions.length;
  const down = await t.throwsAsync(announcer(TOPIC).publish(announcement));
  t.true(isEksdError(down, UNCERTAIN));
  t.regex(down!.message, /HTTP 500/);
  t.is(sns.actions.length, requests + 1, 'sent once, not retried');
});

test.serial('a reply lost after SNS accepted the message: one message, ANNOUNCE_INTERRUPTED, settled by --mark-sent', async (t) => {
  const dir = await ledgerDir();
  const state = new DirStore(dir);
  const before = published(TOPIC).length;
  sns.dropNextReply();
  const e = await t.throwsAsync(announceOnce({ release: announcement.release, announcement, announcer: announcer(TOPIC), state }));
  t.true(isEksdError(e, 'ANNOUNCE_INTERRUPTED'), String(e));
  t.regex((e as { hint?: string }).hint ?? '', /--mark-sent[\s\S]*--again/);
  t.is(published(TOPIC).length, before + 1, 'exactly one message reached SNS');
  t.is((await readLedger(state, announcement.release))?.state, 'sending');
  const again = await t.throwsAsync(announceOnce({ release: announcement.release, announcement, announcer: announcer(TOPIC), state }));
  t.true(isEksdError(again, 'ANNOUNCE_INTERRUPTED'), 'a later run does not resend blindly');
  t.true(await markSent({ release: announcement.release, state }));
  t.true((await announceOnce({ release: announcement.release, announcement, announcer: announcer(TOPIC), state })).skipped);
  t.is(published(TOPIC).length, before + 1, 'still one message');
});

/** Announces through the ledger in `state`; returns the error it stopped with, if any. */
async function announceRun(state: DirStore, timeoutMs = 5_000): Promise<unknown> {
  try {
    await announceOnce({ release: announcement.release, announcement, announcer: announcer(TOPIC, { requestTimeoutMs: timeoutMs }), state });
    return undefined;
  } catch (e) {
    return e;
  }
}

const uncertainReplies: Array<[ReplyFault, string]> = [
  ['truncated', 'a 200 whose XML is cut off inside MessageId'],
  ['no-message-id', 'a 200 without MessageId'],
  ['garbled', 'a 200 that is not XML'],
  ['server-error', 'a 500 after SNS took the message'],
  ['hang', 'no answer before the timeout'],
  ['drop', 'the connection closed without an answer'],
];

for (const [fault, what] of uncertainReplies) {
  test.serial(`${what}: one message received, ANNOUNCE_INTERRUPTED, the ledger stays "sending" and the next run sends nothing`, async (t) => {
    const state = new DirStore(await ledgerDir());
    const [received, delivered] = [sns.received, published(TOPIC).length];
    sns.faultNextReplies(fault);
    const first = await announceRun(state, 1_000);
    t.true(isEksdError(first, 'ANNOUNCE_INTERRUPTED'), String(first));
    t.regex((first as { hint?: string }).hint ?? '', /--mark-sent[\s\S]*--again/);
    t.is((await readLedger(state, announcement.release))?.state, 'sending');
    const next = await announceRun(state);
    t.true(isEksdError(next, 'ANNOUNCE_INTERRUPTED'), String(next));
    t.regex((next as Error).message, /stopped while publishing/);
    t.is(sns.received - received, 1, 'exactly one Publish reached SNS in all: no SDK retry, no blind resend');
    t.is(published(TOPIC).length - delivered, 1);
  });
}

test.serial('a 4xx that is not an SNS error (a proxy page) is not a refusal: ANNOUNCE_INTERRUPTED', async (t) => {
  const state = new DirStore(await ledgerDir());
  sns.failNext({ status: 403, code: '', message: '', body: '<html><body>Forbidden</body></html>' });
  const e = await announceRun(state);
  t.true(isEksdError(e, 'ANNOUNCE_INTERRUPTED'), String(e));
  t.is((await readLedger(state, announcement.release))?.state, 'sending');
});

test.serial('a refusal by SNS (4xx SNS error) takes the ledger entry back: the next run sends, once', async (t) => {
  const state = new DirStore(await ledgerDir());
  const [received, delivered] = [sns.received, published(TOPIC).length];
  sns.failNext({ status: 400, code: 'InvalidParameter', message: 'Invalid parameter: Subject' });
  const refused = await announceRun(state);
  t.true(isEksdError(refused, 'ANNOUNCE_FAILED'), String(refused));
  t.regex((refused as Error).message, /InvalidParameter \(HTTP 400\)/);
  t.is(await readLedger(state, announcement.release), undefined, 'the entry was taken back');
  t.is(await announceRun(state), undefined);
  t.is(await announceRun(state), undefined, 'and a third run finds it sent');
  t.is(sns.received - received, 2, 'the refused request and the one that went out');
  t.is(published(TOPIC).length - delivered, 1, 'one message delivered');
  t.is((await readLedger(state, announcement.release))?.state, 'sent');
});

test.serial('nothing sent (connection refused): ANNOUNCE_FAILED, no ledger entry left', async (t) => {
  const state = new DirStore(await ledgerDir());
  const closed = new FakeSns([TOPIC]);
  const endpoint = await closed.start();
  await closed.stop();
  const e = await t.throwsAsync(announceOnce({ release: announcement.release, announcement, state,
    announcer: new SnsAnnouncer({ topicArn: TOPIC, ...sns.clientOptions(), endpoint }) }));
  t.true(isEksdError(e, 'ANNOUNCE_FAILED'), String(e));
  t.regex(e!.message, /ECONNREFUSED/);
  t.is(await readLedger(state, announcement.release), undefined);
});

test('bad topic ARN fails at configuration time', (t) => {
  t.true(isEksdError(t.throws(() => new SnsAnnouncer({ topicArn: 'eks-distro-updates', region: 'us-east-1' })), 'ANNOUNCE_CONFIG'));
  t.true(isEksdError(t.throws(() => new SnsAnnouncer({ topicArn: TOPIC, region: 'eu-west-1' })), 'ANNOUNCE_CONFIG'));
});
