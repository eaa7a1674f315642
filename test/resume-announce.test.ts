/**
 * A run killed while SNS has its message but before the answer arrives: nobody can tell whether it was
 * delivered, so the next run must not send blindly. It stops with ANNOUNCE_INTERRUPTED until a person
 * settles it (--mark-sent or --again); then the run finishes without a second message.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { snsProject } from './helpers/sns-project.ts';
import { runWithEvents } from './helpers/crash.ts';

const RELEASE = 'kubernetes-1-33-eks-1';

test('killed while waiting for SNS to answer: no blind resend; --mark-sent settles it and the run finishes', async (t) => {
  const { sns, p, env } = await snsProject(t);
  const ledgerFile = join(p.config().stateDir, 'announcements', `${RELEASE}.json`);
  const ledgerState = (): string => (JSON.parse(readFileSync(ledgerFile, 'utf8')) as { state: string }).state;

  const held = sns.holdNextReply();
  let pid = 0;
  void held.then(() => { if (pid > 0) process.kill(pid, 'SIGKILL'); });
  const crashed = await runWithEvents(p, ['release'], { env, onEvent: (_e, child) => { pid = child; } });
  t.is(crashed.signal, 'SIGKILL', crashed.stderr.slice(-2000));
  t.is(sns.publishes.length, 1, 'the message reached SNS');
  t.is(ledgerState(), 'sending', 'the ledger says the send was in progress, and nothing recorded it as sent');

  const stopped = await p.eksd(['release'], { env });
  t.is(stopped.code, 1, stopped.stderr);
  t.regex(stopped.stderr, new RegExp(`ANNOUNCE_INTERRUPTED: an earlier announcement of ${RELEASE} stopped while publishing`));
  t.regex(stopped.stderr, new RegExp(`eksd announce ${RELEASE} --mark-sent[\\s\\S]*eksd announce ${RELEASE} --again`));
  t.is(sns.publishes.length, 1, 'not sent blindly');

  const contradictory = await p.eksd(['announce', RELEASE, '--mark-sent', '--again'], { env });
  t.is(contradictory.code, 2);

  const dry = await p.eksd(['announce', RELEASE, '--mark-sent', '--dry-run'], { env });
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, /would record kubernetes-1-33-eks-1 as announced/);
  t.is(ledgerState(), 'sending', 'a dry run writes nothing');

  const marked = await p.eksd(['announce', RELEASE, '--mark-sent'], { env });
  t.is(marked.code, 0, marked.stderr);
  t.regex(marked.stdout, /recorded kubernetes-1-33-eks-1 as announced; nothing was sent/);
  t.is(ledgerState(), 'sent');

  const finished = await p.eksd(['release', '--json'], { env });
  t.is(finished.code, 0, finished.stderr);
  t.like(JSON.parse(finished.stdout), { release: RELEASE, announcement: { skipped: true } });
  const announce = await p.eksd(['announce', RELEASE], { env });
  t.regex(announce.stdout, /already announced/);
  t.is(sns.publishes.length, 1, 'exactly one message in the end');
});

test('SNS answers 200 unreadably (truncated XML, then no MessageId): the run stops ANNOUNCE_INTERRUPTED and the next run sends nothing', async (t) => {
  const { sns, p, env } = await snsProject(t);
  const cases = [['truncated', RELEASE, []], ['no-message-id', 'kubernetes-1-33-eks-2', ['--release-unchanged']]] as const;
  for (const [fault, release, flags] of cases) {
    const received = sns.received;
    sns.faultNextReplies(fault);
    const stopped = await p.eksd(['release', ...flags], { env });
    t.is(stopped.code, 1, stopped.stderr);
    t.regex(stopped.stderr, new RegExp(`ANNOUNCE_INTERRUPTED: the announcement of ${release} may or may not have been sent`));
    const next = await p.eksd(['release'], { env });
    t.is(next.code, 1, next.stderr);
    t.regex(next.stderr, new RegExp(`ANNOUNCE_INTERRUPTED: an earlier announcement of ${release} stopped while publishing`));
    const announce = await p.eksd(['announce', release], { env });
    t.regex(announce.stderr, /ANNOUNCE_INTERRUPTED/, 'eksd announce does not send it blindly either');
    t.is(sns.received - received, 1, `${fault}: exactly one message received in all`);
    const marked = await p.eksd(['announce', release, '--mark-sent'], { env });
    t.is(marked.code, 0, marked.stderr);
    const finished = await p.eksd(['release'], { env });
    t.is(finished.code, 0, finished.stderr);
    t.is(sns.received - received, 1, `${fault}: still one once the run finished`);
  }
});
