/**
 * Changing one component rebuilds exactly that component's images and the images built FROM them:
 * a go-runner version bump rebuilds go-runner and kube-apiserver (FROM go-runner); a change to etcd's
 * Dockerfile rebuilds etcd only. `eksd plan --json` says so before the run, and the run does it.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadCatalog } from '../pipeline/catalog/load.ts';
import { checksums, standinContent } from '../dev/env/standin-artifacts.ts';
import { makeProject, type TestProject } from './helpers/project.ts';
import { imagesIn, manifestImages, manifestText, runWithEvents, tagMismatches, type EventRun } from './helpers/crash.ts';

interface PlanRow { image: string; platform: string; action: string; reason: string }
interface ReleaseJson { number: number; ms: number; images: Array<{ name: string; uri: string; digest: string; tags: string[]; changed: string | null }> }

const pairs = (...images: string[]) => images.flatMap((i) => [`${i} linux/amd64`, `${i} linux/arm64`]).sort();
const ALL = pairs('eks-distro-base', 'eks-distro-minimal-base', 'etcd', 'go-runner', 'kube-apiserver');

let p: TestProject;
let first: ReleaseJson;

test.before(async () => {
  p = await makeProject({ catalog: 'mini' });
  await p.seed();
  const r = await p.eksd(['release', '--json', '--concurrency', '2']);
  if (r.code !== 0) throw new Error(`first release failed: ${r.stderr}`);
  first = JSON.parse(r.stdout) as ReleaseJson;
});

test.after.always(async () => { await p?.cleanup(); });

async function plan(t: ExecutionContext): Promise<PlanRow[]> {
  const r = await p.eksd(['plan', '--json']);
  t.is(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { decisions: PlanRow[] }).decisions;
}

const building = (rows: PlanRow[]) => rows.filter((r) => r.action !== 'reuse').map((r) => `${r.image} ${r.platform}`).sort();
const reasons = (rows: PlanRow[], image: string) => [...new Set(rows.filter((r) => r.image === image).map((r) => r.reason))];

async function release(t: ExecutionContext): Promise<{ run: EventRun; result: ReleaseJson }> {
  const run = await runWithEvents(p, ['release', '--json', '--concurrency', '2']);
  t.is(run.code, 0, run.stderr.split('\n').slice(-15).join('\n'));
  const result = JSON.parse(run.stdout) as ReleaseJson;
  t.deepEqual(await tagMismatches(result), []);
  const verify = await p.eksd(['verify', `kubernetes-1-33-eks-${result.number}`]);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
  return { run, result };
}

const digestOf = (r: ReleaseJson, image: string) => r.images.find((i) => i.name === image)?.digest;

test.serial('a go-runner version bump rebuilds go-runner and kube-apiserver, nothing else', async (t) => {
  // Bump the version; the stand-in artifacts of the new version get their own checksums, as a real bump would.
  const file = join(p.root, 'images', 'go-runner', 'component.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { versions: Array<{ gitTag: string; artifacts: Array<{ name: string; sha256: string; sha512: string }> }> };
  doc.versions[0]!.gitTag = 'v0.18.1';
  writeFileSync(file, stringify(doc));
  const specs = loadCatalog(p.config()).components.find((c) => c.name === 'go-runner')!.artifacts;
  for (const a of doc.versions[0]!.artifacts) Object.assign(a, checksums(await standinContent(specs.find((s) => s.name === a.name)!)));
  writeFileSync(file, stringify(doc));
  await p.seed();

  const rows = await plan(t);
  t.deepEqual(building(rows), pairs('go-runner', 'kube-apiserver'), 'the plan builds go-runner and what is built FROM it');
  t.deepEqual(reasons(rows, 'go-runner'), ['no published build with these inputs'], 'a new version has no published build yet');
  t.deepEqual(reasons(rows, 'kube-apiserver'), ['parent go-runner changed']);
  for (const image of ['eks-distro-base', 'eks-distro-minimal-base', 'etcd']) t.deepEqual(reasons(rows, image), ['unchanged']);

  const { run, result } = await release(t);
  t.deepEqual(imagesIn(run.events, 'building'), pairs('go-runner', 'kube-apiserver'), 'the run builds what the plan said');
  t.deepEqual(imagesIn(run.events, 'reused'), ALL.filter((x) => !pairs('go-runner', 'kube-apiserver').includes(x)));
  t.true(result.images.find((i) => i.name === 'go-runner')!.tags.includes('v0.18.1-eks-1-33-2'));
  for (const image of ['eks-distro-base', 'eks-distro-minimal-base', 'etcd']) t.is(digestOf(result, image), digestOf(first, image), `${image} kept its digest`);
  t.not(digestOf(result, 'kube-apiserver'), digestOf(first, 'kube-apiserver'));
  t.regex(result.images.find((i) => i.name === 'kube-apiserver')!.changed ?? '', /parent go-runner changed/);
  const manifest = manifestImages(manifestText(p, 2));
  t.is(manifest.find((i) => i.name === 'etcd-image')?.digest, digestOf(first, 'etcd'));
  t.is(manifest.find((i) => i.name === 'kube-apiserver-image')?.digest, digestOf(result, 'kube-apiserver'));
  t.log(`first release ${(first.ms / 1000).toFixed(1)}s; go-runner bump ${(result.ms / 1000).toFixed(1)}s = ${((result.ms / first.ms) * 100).toFixed(0)}% of it`);
});

test.serial('a change to etcd\'s Dockerfile rebuilds etcd only', async (t) => {
  appendFileSync(join(p.root, 'images', 'etcd', 'Dockerfile'), 'LABEL org.opencontainers.image.vendor="EKS Distro test"\n');
  const rows = await plan(t);
  t.deepEqual(building(rows), pairs('etcd'));
  t.deepEqual(reasons(rows, 'etcd'), ['recipe changed']);
  const previous = { images: (JSON.parse(readFileSync(join(p.config().stateDir, 'runs', '1-33', '2.json'), 'utf8')) as { stages: { build: Record<string, { index: { digest: string } }> } }).stages.build };

  const { run, result } = await release(t);
  t.deepEqual(imagesIn(run.events, 'building'), pairs('etcd'));
  for (const image of ['eks-distro-base', 'eks-distro-minimal-base', 'go-runner', 'kube-apiserver']) {
    t.is(digestOf(result, image), previous.images[image]!.index.digest, `${image} kept its digest`);
  }
  t.not(digestOf(result, 'etcd'), previous.images.etcd!.index.digest);
  t.log(`etcd recipe change ${(result.ms / 1000).toFixed(1)}s = ${((result.ms / first.ms) * 100).toFixed(0)}% of the first release`);
});
