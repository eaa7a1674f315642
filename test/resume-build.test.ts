/**
 * Crash a release while it builds (after an AL2 update, so everything rebuilds) with SIGKILL, run the
 * same command again, and check that the resumed run builds only what the killed one had not pushed,
 * keeps the release number, and publishes a state an uninterrupted run agrees with: the next release,
 * with nothing changed, reuses every image and lists the same digests.
 */
import test from 'ava';
import { releasedProject, type TestProject } from './helpers/project.ts';
import {
  al2Update, at, checkFinished, currentJournal, journalImages, imagesIn, indexEntries, journaledPlatforms, manifestImages, manifestText,
  releaseJson as json, releaseKilledAt, releaseNumbers, runWithEvents, tail, type EventRun,
} from './helpers/crash.ts';

const ALL = ['eks-distro-base', 'eks-distro-minimal-base', 'etcd', 'go-runner', 'kube-apiserver']
  .flatMap((i) => ['linux/amd64', 'linux/arm64'].map((pl) => `${i} ${pl}`)).sort();

let p: TestProject;

test.before(async () => { p = await releasedProject(); });

test.after.always(async () => { await p?.cleanup(); });

const secs = (run: EventRun) => `${(run.ms / 1000).toFixed(1)}s`;

test.serial('killed during the builds after an AL2 update, and again after the tags moved: resumed twice, it builds each image once', async (t) => {
  await al2Update(t, p);
  const crash = await releaseKilledAt(p, at.stepAfterIndexed);
  t.true(crash.killed, tail(crash.stderr));
  t.is(crash.killedAt?.type, 'step');
  const journal = currentJournal(p);
  t.is(journal?.number, 2);
  const pushedBefore = journaledPlatforms(journal);
  t.log(`killed during ${JSON.stringify(crash.killedAt)}; recorded: ${pushedBefore.join(', ')}`);
  t.true(pushedBefore.length >= 2, 'at least one image was published before the kill');

  // Resume, and kill that run too, once its tags have moved.
  const second = await releaseKilledAt(p, at.stageFinished('tags'), ['--json']);
  t.true(second.killed, tail(second.stderr));
  t.true(second.stderr.includes('resuming release 2'));
  t.deepEqual(imagesIn(second.events, 'building'), ALL.filter((x) => !pushedBefore.includes(x)), 'only what was not pushed is built');
  t.deepEqual(imagesIn(second.events, 'reused'), pushedBefore, 'what was pushed before the kill is reused');

  const third = await runWithEvents(p, ['release', '--json']);
  t.is(third.code, 0, tail(third.stderr));
  t.deepEqual(imagesIn(third.events, 'building'), [], 'nothing left to build');
  const result = json(third);
  t.true(result.resumed);
  await checkFinished(t, p, 2, result);
  for (const img of result.images) {
    t.regex(img.changed ?? '', /upstream base image updated|parent .* changed/, `${img.name}: why it changed survives the resume`);
    for (const pl of Object.values(img.platforms)) t.true(pl.built, `${img.name} was built by this release`);
  }

  // An uninterrupted run agrees with the state the resumed one published: nothing to do, same digests
  // (released on purpose, so that its manifest can be compared).
  const next = await runWithEvents(p, ['release', '--json', '--release-unchanged']);
  t.log(`killed run ${secs(crash)}, resumed and killed ${secs(second)}, resumed ${secs(third)}, next release ${secs(next)}`);
  t.is(next.code, 0, tail(next.stderr));
  t.deepEqual(imagesIn(next.events, 'building'), []);
  t.deepEqual(json(next).images.map((i) => [i.name, i.digest]), result.images.map((i) => [i.name, i.digest]));
  t.deepEqual(manifestImages(manifestText(p, 3)).map((i) => i.digest), manifestImages(manifestText(p, 2)).map((i) => i.digest));
});

test.serial('killed between the per-platform pushes and the index: the pushed platform is reused, the rest built, the index holds both', async (t) => {
  await al2Update(t, p);
  const number = releaseNumbers(p).at(-1)! + 1;
  const crash = await releaseKilledAt(p, at.firstPushed);
  t.true(crash.killed, tail(crash.stderr));
  const killedAt = crash.killedAt as { image: string; platform: string; detail: string };
  const journal = currentJournal(p);
  t.is(journal?.number, number);
  const pushedBefore = journaledPlatforms(journal);
  t.log(`killed after ${killedAt.image} ${killedAt.platform} was pushed; recorded: ${pushedBefore.join(', ')}`);
  t.true(pushedBefore.includes(`${killedAt.image} ${killedAt.platform}`), 'the push was recorded before the event');
  const half = Object.entries(journalImages(journal)).filter(([, r]) => !r.index && Object.keys(r.platforms).length > 0);
  t.true(half.length > 0, 'some image has a platform pushed and no index');

  // The plan shows what is left to do for the interrupted release.
  const plan = await p.eksd(['plan', '--json']);
  t.is(plan.code, 0, plan.stderr);
  const rows = (JSON.parse(plan.stdout) as { plan: { number: number }; decisions: Array<{ image: string; platform: string; action: string; reason: string }> });
  t.is(rows.plan.number, number, 'the plan is for the interrupted release');
  t.deepEqual(rows.decisions.filter((r) => r.action === 'reuse').map((r) => `${r.image} ${r.platform}`).sort(), pushedBefore);
  t.true(rows.decisions.filter((r) => r.action === 'reuse').every((r) => r.reason === 'built by the interrupted run of this release'));

  const resumed = await runWithEvents(p, ['release', '--json']);
  t.is(resumed.code, 0, tail(resumed.stderr));
  t.deepEqual(imagesIn(resumed.events, 'building'), ALL.filter((x) => !pushedBefore.includes(x)), 'only what was not pushed is built');
  t.deepEqual(imagesIn(resumed.events, 'reused'), pushedBefore);
  t.log(`killed run ${secs(crash)}, resumed ${secs(resumed)}`);
  const result = json(resumed);
  await checkFinished(t, p, number, result);
  for (const [name, record] of half) {
    const img = result.images.find((i) => i.name === name)!;
    const entries = await indexEntries(img.uri);
    for (const [platform, pr] of Object.entries(record.platforms)) {
      t.is(img.platforms[platform]?.digest, pr.manifest.digest, `${name} ${platform} kept the digest pushed before the kill`);
      t.true(entries.includes(pr.manifest.digest), `${name}'s index lists it`);
    }
    t.is(entries.length, 2, `${name}'s index has both platforms`);
  }
});
