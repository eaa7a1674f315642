/**
 * Crash a release after its images are published (tags moved, manifest written, announced) with SIGKILL,
 * run the same command again, and check that the run ends exactly where an uninterrupted one would:
 * same release number, a manifest identical to an uninterrupted release of the same inputs (apart from
 * number and date), every digest what the registry serves, verify passing, one announcement.
 *
 * Release 1 is the uninterrupted reference. Nothing changes afterwards, so an uninterrupted release N
 * reuses every image: the crashed-then-resumed releases must list exactly release 1's digests.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeProject, type TestProject } from './helpers/project.ts';
import {
  at, currentJournal, manifestImages, manifestText, normalizeManifest, outboxFiles, releaseKilledAt, releaseNumbers,
  runsDir, tagMismatches, tail, type EventMatch, type EventRun, type KillPredicate, type ReleaseJson,
} from './helpers/crash.ts';

let p: TestProject;
let reference: { text: string; images: ReturnType<typeof manifestImages> };

test.before(async () => {
  p = await makeProject({ catalog: 'mini' });
  await p.seed();
  const r = await p.eksd(['release', '--json', '--concurrency', '2']);
  if (r.code !== 0) throw new Error(`reference release failed: ${r.stderr}`);
  reference = { text: manifestText(p, 1), images: manifestImages(manifestText(p, 1)) };
});

test.after.always(async () => { await p?.cleanup(); });

/** Kills a release at `killAt`, runs `eksd release` again, and checks the end state. */
async function crashAndResume(t: import('ava').ExecutionContext, killAt: KillPredicate | EventMatch,
  accept: (crash: EventRun) => string | undefined = () => undefined): Promise<{ crash: EventRun; resumed: ReleaseJson } | undefined> {
  const before = releaseNumbers(p);
  const number = (before.at(-1) ?? 0) + 1;
  // Each release here has the reference's content: released on purpose.
  const crash = await releaseKilledAt(p, killAt, ['--json', '--release-unchanged']);
  t.true(crash.killed, `the run was not killed at the chosen event (exit ${crash.code}):\n${tail(crash.stderr)}`);
  const skip = accept(crash);
  if (skip) { t.log(`release ${number}: ${skip}`); return undefined; }
  const journal = currentJournal(p);
  t.is(journal?.number, number, 'the killed run left its journal with its number');

  const again = await p.eksd(['release', '--json']);
  t.is(again.code, 0, tail(again.stderr));
  const resumed = JSON.parse(again.stdout) as ReleaseJson;
  t.is(resumed.number, number, 'resumed under the interrupted run\'s number');
  t.true(resumed.resumed);
  t.true(again.stderr.includes(`resuming release ${number}`));

  // No second number was used, and each release was announced exactly once.
  t.deepEqual(releaseNumbers(p), [...before, number]);
  t.deepEqual(outboxFiles(p), releaseNumbers(p).map((n) => `kubernetes-1-33-eks-${n}.json`).sort());
  t.is(currentJournal(p), undefined, 'the resumed run closed its journal');
  t.true(existsSync(join(runsDir(p), `${number}.json`)), 'and archived it');

  // Identical to an uninterrupted release of the same inputs, apart from number and date.
  const text = manifestText(p, number);
  t.is(normalizeManifest(text, number), normalizeManifest(reference.text, 1));
  t.deepEqual(manifestImages(text).map((i) => [i.name, i.digest]), reference.images.map((i) => [i.name, i.digest]));
  t.true(resumed.images.every((i) => Object.values(i.platforms).every((pl) => !pl.built)), 'nothing was built');
  t.deepEqual(await tagMismatches(resumed), [], 'every tag points at the recorded digest');
  const verify = await p.eksd(['verify', `kubernetes-1-33-eks-${number}`]);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
  return { crash, resumed };
}

test.serial('killed after the tags moved, before the manifest: the next run writes, verifies and announces it', async (t) => {
  const r = await crashAndResume(t, at.stageFinished('tags'));
  t.is(r?.resumed.announcement?.skipped, false, 'announced by the resumed run');
});

test.serial('killed after the manifest was written: the next run verifies and announces it, under the same number', async (t) => {
  const r = await crashAndResume(t, at.stageFinished('release'), () => {
    const number = currentJournal(p)?.number;
    return number !== undefined && existsSync(join(p.config().site.dir, 'kubernetes-1-33', `kubernetes-1-33-eks-${number}.yaml`))
      ? undefined : 'manifest not written before the kill';
  });
  t.truthy(r);
  t.is(r?.resumed.announcement?.skipped, false, 'announced by the resumed run, once');
});

test.serial('killed right after announcing: the next run finishes the same release and does not announce it again', async (t) => {
  const r = await crashAndResume(t, at.stageFinished('announce'));
  t.truthy(r);
  t.truthy(r?.crash.events.find((e) => e.type === 'stage' && e.stage === 'announce' && e.state === 'finished'), 'killed after the announcement went out');
  t.is(r?.resumed.announcement?.skipped, true, 'the resumed run did not send a second announcement');
});
