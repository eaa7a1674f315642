/**
 * SIGTERM (a cancelled CI build) and SIGINT stop a real `eksd release` at its next safe point: between
 * builds, or between stages. The run exits 143 / 130, its journal is consistent, the channel's lease is released
 * at once (not held for its lifetime), and the next run resumes the release and announces it once.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { releasedProject, type TestProject } from './helpers/project.ts';
import {
  al2Update, checkFinished, currentJournal, imagesIn, journaledPlatforms, outboxFiles, releaseJson as json, releaseNumbers, runWithEvents, tail,
} from './helpers/crash.ts';

let p: TestProject;

test.before(async () => { p = await releasedProject(); });

test.after.always(async () => { await p?.cleanup(); });

const leaseFile = () => join(p.config().stateDir, 'leases', '1-33.json');

test.serial('SIGTERM during the builds: the builds under way finish and are recorded, none starts, exit 143, lease released; the next run resumes and announces once', async (t) => {
  await al2Update(t, p);
  const number = releaseNumbers(p).at(-1)! + 1;
  let signalled = false;
  const stopped = await runWithEvents(p, ['release', '--concurrency', '1'], {
    onEvent: (e, pid) => {
      if (signalled || e.type !== 'image' || e.state !== 'building') return;
      signalled = true;
      process.kill(pid, 'SIGTERM');
    },
  });
  t.true(signalled);
  t.is(stopped.code, 143, tail(stopped.stderr));
  t.is(stopped.signal, null, 'it exited by itself, not killed by the signal');
  t.regex(stopped.stderr, /SIGTERM received: stopping at the next safe point/);
  t.regex(stopped.stderr, /RUN_INTERRUPTED: stopped by SIGTERM before (building \S+ linux\/(amd64|arm64)|the \w+ stage)/);
  t.false(existsSync(leaseFile()), 'the lease was released at once');
  const journal = currentJournal(p);
  t.is(journal?.number, number, 'the journal keeps the release');
  const built = imagesIn(stopped.events, 'building');
  t.deepEqual(imagesIn(stopped.events, 'pushed'), built, 'every build that started was finished and pushed');
  t.deepEqual(journaledPlatforms(journal).filter((x) => built.includes(x)), built, 'and recorded');
  t.deepEqual(outboxFiles(p).filter((f) => f.includes(`-eks-${number}.`)), [], 'nothing announced');

  const resumed = await runWithEvents(p, ['release', '--json']);
  t.is(resumed.code, 0, tail(resumed.stderr));
  t.true(resumed.stderr.includes(`resuming release ${number}`), 'not blocked by the lease: it resumed at once');
  t.deepEqual(imagesIn(resumed.events, 'building').filter((x) => built.includes(x)), [], 'what the stopped run built is not built again');
  await checkFinished(t, p, number, json(resumed));
});

test.serial('SIGTERM during the site ("release") stage: the stage finishes, nothing after it starts, exit 143, lease released; the next run resumes and announces once', async (t) => {
  await al2Update(t, p);
  const number = releaseNumbers(p).at(-1)! + 1;
  let signalled = false;
  const stopped = await runWithEvents(p, ['release'], {
    onEvent: (e, pid) => {
      if (signalled || e.type !== 'stage' || e.stage !== 'release' || e.state !== 'started') return;
      signalled = true;
      process.kill(pid, 'SIGTERM');
    },
  });
  t.true(signalled);
  t.is(stopped.code, 143, tail(stopped.stderr));
  t.regex(stopped.stderr, /RUN_INTERRUPTED: stopped by SIGTERM before the (verify|pointers|announce) stage/);
  const started = stopped.events.filter((e) => e.type === 'stage' && e.state === 'started').map((e) => (e as { stage: string }).stage);
  t.false(started.includes('announce'), 'the announcement was not started');
  t.false(existsSync(leaseFile()), 'the lease was released at once');
  const journal = currentJournal(p);
  t.is(journal?.number, number);
  t.truthy(journal?.stages.release, 'the site stage finished and was recorded');
  t.deepEqual(outboxFiles(p).filter((f) => f.includes(`-eks-${number}.`)), [], 'nothing announced');

  const resumed = await runWithEvents(p, ['release', '--json']);
  t.is(resumed.code, 0, tail(resumed.stderr));
  t.true(resumed.stderr.includes(`resuming release ${number}`));
  await checkFinished(t, p, number, json(resumed));
  const again = await runWithEvents(p, ['release', '--json']);
  t.is(again.code, 0, tail(again.stderr));
  t.deepEqual(outboxFiles(p).filter((f) => f.includes(`-eks-${number}.`)), [`kubernetes-1-33-eks-${number}.json`], 'announced once');
});

test.serial('SIGINT (Ctrl-C) between stages: exit 130, lease released, the journal resumes under the same number', async (t) => {
  const number = releaseNumbers(p).at(-1)! + 1;
  let signalled = false;
  const stopped = await runWithEvents(p, ['release', '--release-unchanged'], {
    onEvent: (e, pid) => {
      if (signalled || e.type !== 'stage' || e.stage !== 'tags' || e.state !== 'started') return;
      signalled = true;
      process.kill(pid, 'SIGINT');
    },
  });
  t.is(stopped.code, 130, tail(stopped.stderr));
  t.regex(stopped.stderr, /RUN_INTERRUPTED: stopped by SIGINT before the (attest|release|verify|pointers|announce) stage/);
  t.false(existsSync(leaseFile()), 'the lease was released at once');
  t.is(currentJournal(p)?.number, number);
  const resumed = await runWithEvents(p, ['release', '--json', '--release-unchanged']);
  t.is(resumed.code, 0, tail(resumed.stderr));
  t.true(resumed.stderr.includes(`resuming release ${number}`));
  await checkFinished(t, p, number, json(resumed));
});
