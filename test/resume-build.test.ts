/**
 * Crash a release while it builds (after an AL2 update, so everything rebuilds) with SIGKILL, run the
 * same command again, and check that the resumed run builds only what the killed one had not pushed,
 * keeps the release number, and publishes a state an uninterrupted run agrees with: the next release,
 * with nothing changed, reuses every image and lists the same digests.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { makeProject, type TestProject } from './helpers/project.ts';
import {
  at, currentJournal, imagesIn, indexEntries, journaledPlatforms, manifestImages, manifestText, outboxFiles,
  releaseKilledAt, releaseNumbers, runWithEvents, tagMismatches, type EventRun,
} from './helpers/crash.ts';

interface ReleaseJson {
  number: number; resumed: boolean;
  images: Array<{ name: string; uri: string; digest: string; tags: string[]; changed: string | null; platforms: Record<string, { digest: string; built: boolean; reason: string }> }>;
  announcement: { skipped: boolean } | null;
}

const ALL = ['eks-distro-base', 'eks-distro-minimal-base', 'etcd', 'go-runner', 'kube-apiserver']
  .flatMap((i) => ['linux/amd64', 'linux/arm64'].map((pl) => `${i} ${pl}`)).sort();

let p: TestProject;

test.before(async () => {
  p = await makeProject({ catalog: 'mini' });
  await p.seed();
  const r = await p.eksd(['release', '--concurrency', '2']);
  if (r.code !== 0) throw new Error(`first release failed: ${r.stderr}`);
});

test.after.always(async () => { await p?.cleanup(); });

const tail = (s: string) => s.split('\n').slice(-15).join('\n');
const secs = (run: EventRun) => `${(run.ms / 1000).toFixed(1)}s`;
const json = (run: EventRun) => JSON.parse(run.stdout) as ReleaseJson;

async function al2Update(t: ExecutionContext): Promise<void> {
  await p.seed({ update: true });
  const w = await p.eksd(['watch-base', '--write']);
  t.true(w.code === 0 || w.code === 10, w.stderr);
}

/** The end state every crashed-then-resumed release must reach. */
async function checkFinished(t: ExecutionContext, number: number, result: ReleaseJson): Promise<void> {
  t.is(result.number, number);
  t.deepEqual(releaseNumbers(p), Array.from({ length: number }, (_, i) => i + 1), 'no second number was used');
  t.deepEqual(outboxFiles(p), releaseNumbers(p).map((n) => `kubernetes-1-33-eks-${n}.json`).sort(), 'one announcement per release');
  t.is(currentJournal(p), undefined, 'the run is closed');
  t.deepEqual(await tagMismatches(result), [], 'every tag points at the digest the run recorded');
  const manifest = manifestImages(manifestText(p, number));
  t.deepEqual(manifest.map((i) => i.digest).sort(),
    result.images.filter((i) => ['etcd', 'kube-apiserver'].includes(i.name)).map((i) => i.digest).sort(), 'the manifest lists the published digests');
  const verify = await p.eksd(['verify', `kubernetes-1-33-eks-${number}`]);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
}

test.serial('killed during the builds after an AL2 update, and again after the tags moved: resumed twice, it builds each image once', async (t) => {
  await al2Update(t);
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
  await checkFinished(t, 2, result);
  for (const img of result.images) {
    t.regex(img.changed ?? '', /upstream base image updated|parent .* changed/, `${img.name}: why it changed survives the resume`);
    for (const pl of Object.values(img.platforms)) t.true(pl.built, `${img.name} was built by this release`);
  }

  // An uninterrupted run agrees with the state the resumed one published: nothing to do, same digests.
  const next = await runWithEvents(p, ['release', '--json']);
  t.log(`killed run ${secs(crash)}, resumed and killed ${secs(second)}, resumed ${secs(third)}, next release ${secs(next)}`);
  t.is(next.code, 0, tail(next.stderr));
  t.deepEqual(imagesIn(next.events, 'building'), []);
  t.deepEqual(json(next).images.map((i) => [i.name, i.digest]), result.images.map((i) => [i.name, i.digest]));
  t.deepEqual(manifestImages(manifestText(p, 3)).map((i) => i.digest), manifestImages(manifestText(p, 2)).map((i) => i.digest));
});

test.serial('killed between the per-platform pushes and the index: the pushed platform is reused, the rest built, the index holds both', async (t) => {
  await al2Update(t);
  const number = releaseNumbers(p).at(-1)! + 1;
  const crash = await releaseKilledAt(p, at.firstPushed);
  t.true(crash.killed, tail(crash.stderr));
  const killedAt = crash.killedAt as { image: string; platform: string; detail: string };
  const journal = currentJournal(p);
  t.is(journal?.number, number);
  const pushedBefore = journaledPlatforms(journal);
  t.log(`killed after ${killedAt.image} ${killedAt.platform} was pushed; recorded: ${pushedBefore.join(', ')}`);
  t.true(pushedBefore.includes(`${killedAt.image} ${killedAt.platform}`), 'the push was recorded before the event');
  const half = Object.entries(journal!.images).filter(([, r]) => !r.index && Object.keys(r.platforms).length > 0);
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
  await checkFinished(t, number, result);
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

test.serial('inputs changed between a crash after the tags moved and the resume: nothing disagreeing with the tags is written; restoring them finishes the release', async (t) => {
  await al2Update(t);
  const number = releaseNumbers(p).at(-1)! + 1;
  const crash = await releaseKilledAt(p, at.stageFinished('tags'), ['--json']);
  t.true(crash.killed, tail(crash.stderr));
  const tagged = Object.fromEntries(Object.entries(currentJournal(p)!.images).map(([name, r]) => [name, r.index!.digest]));
  const pin = readFileSync(p.config().basePin, 'utf8');

  // Another AL2 update is pinned before anyone re-runs the release.
  await al2Update(t);
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
  await checkFinished(t, number, result);
  t.deepEqual(Object.fromEntries(result.images.map((i) => [i.name, i.digest])), tagged);
});
