/**
 * A release killed after its tags moved, resumed after its inputs changed (an AL2 update pinned in
 * between): the resumed run would make other images than the ones the tags already serve, so it stops
 * before writing a manifest that disagrees with them; with the inputs it started with restored, it
 * finishes the release with exactly the images it tagged.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { releasedProject, type TestProject } from './helpers/project.ts';
import {
  al2Update, at, checkFinished, currentJournal, journalImages, imagesIn, outboxFiles, releaseJson as json, releaseKilledAt, releaseNumbers,
  runWithEvents, tail,
} from './helpers/crash.ts';

let p: TestProject;

test.before(async () => { p = await releasedProject(); });

test.after.always(async () => { await p?.cleanup(); });

test('inputs changed between a crash after the tags moved and the resume: nothing disagreeing with the tags is written; restoring them finishes the release', async (t) => {
  await al2Update(t, p);
  const number = releaseNumbers(p).at(-1)! + 1;
  const crash = await releaseKilledAt(p, at.stageFinished('tags'), ['--json']);
  t.true(crash.killed, tail(crash.stderr));
  const tagged = Object.fromEntries(Object.entries(journalImages(currentJournal(p))).map(([name, r]) => [name, r.index!.digest]));
  const pin = readFileSync(p.config().basePin, 'utf8');

  // Another AL2 update is pinned before anyone re-runs the release.
  await al2Update(t, p);
  const changed = await runWithEvents(p, ['release', '--json']);
  t.is(changed.code, 1, tail(changed.stderr));
  t.log(changed.stderr.split('\n').filter((l) => !l.startsWith('{')).join('\n'));
  t.regex(changed.stderr, new RegExp(`release ${number} of channel 1-33 was interrupted after its tags moved`));
  t.false(releaseNumbers(p).includes(number), 'no manifest that disagrees with the tags was written');
  t.false(outboxFiles(p).includes(`kubernetes-1-33-eks-${number}.json`), 'nothing was announced');

  // With the pin it started with, the release finishes with the images it tagged.
  writeFileSync(p.config().basePin, pin);
  const resumed = await runWithEvents(p, ['release', '--json']);
  t.is(resumed.code, 0, tail(resumed.stderr));
  t.deepEqual(imagesIn(resumed.events, 'building'), []);
  const result = json(resumed);
  await checkFinished(t, p, number, result);
  t.deepEqual(Object.fromEntries(result.images.map((i) => [i.name, i.digest])), tagged);
});
