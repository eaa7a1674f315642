/**
 * `eksd plan` after an AL2 update: every image and platform is built, and the plan says why (the upstream
 * base for the bases, the rebuilt parent for the rest); the release then builds exactly that. `--force`
 * rebuilds everything even when nothing changed.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { ANNOTATION } from '../pipeline/image/annotations.ts';
import { MEDIA } from '../pipeline/image/media-types.ts';
import { RegistryClient } from '../pipeline/registry/client.ts';
import { releasedProject, type TestProject } from './helpers/project.ts';
import { imagesIn, runWithEvents } from './helpers/crash.ts';

interface PlanRow { image: string; platform: string; action: string; reason: string; via: string | null; from: string; key: string }

const pairs = (...images: string[]) => images.flatMap((i) => [`${i} linux/amd64`, `${i} linux/arm64`]).sort();
const ALL = pairs('eks-distro-base', 'eks-distro-minimal-base', 'etcd', 'go-runner', 'kube-apiserver');
const WHY: Record<string, string> = {
  'eks-distro-base': 'upstream base image updated',
  'eks-distro-minimal-base': 'upstream base image updated',
  'go-runner': 'parent eks-distro-minimal-base changed',
  etcd: 'parent eks-distro-minimal-base changed',
  'kube-apiserver': 'parent go-runner changed',
};

let p: TestProject;

test.before(async () => { p = await releasedProject(); });

test.after.always(async () => { await p?.cleanup(); });

async function plan(t: ExecutionContext, args: string[] = []): Promise<PlanRow[]> {
  const r = await p.eksd(['plan', '--json', ...args]);
  t.is(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { decisions: PlanRow[] }).decisions;
}

const byAction = (rows: PlanRow[], action: string) => rows.filter((r) => r.action === action).map((r) => `${r.image} ${r.platform}`).sort();

test.serial('with nothing changed the plan reuses every image', async (t) => {
  const rows = await plan(t);
  t.deepEqual(byAction(rows, 'reuse'), ALL);
  t.true(rows.every((r) => r.reason === 'unchanged'));
});

test.serial('after an AL2 update the plan builds every image and says which input changed; the release does what it said', async (t) => {
  const before = await plan(t);
  await p.seed({ update: true });
  const w = await p.eksd(['watch-base', '--write']);
  t.true(w.code === 0 || w.code === 10, w.stderr);

  const rows = await plan(t);
  t.deepEqual(byAction(rows, 'build'), ALL);
  for (const r of rows) {
    t.is(r.reason, WHY[r.image], `${r.image} ${r.platform}`);
    t.is(r.via, r.image.includes('base') ? 'buildkit' : 'assemble', `${r.image} ${r.platform}: the bases RUN, the components only COPY`);
    t.not(r.key, before.find((b) => b.image === r.image && b.platform === r.platform)!.key, 'its build key changed');
  }
  const text = await p.eksd(['plan']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /eks-distro-base\s+linux\/arm64\s+build\s+upstream base image updated/);
  t.regex(text.stdout, /kube-apiserver\s+linux\/amd64\s+build\s+parent go-runner changed/);
  t.regex(text.stdout, /10 of 10 image builds needed, 0 reused/);

  const run = await runWithEvents(p, ['release', '--concurrency', '2']);
  t.is(run.code, 0, run.stderr);
  t.deepEqual(imagesIn(run.events, 'building'), ALL);
  for (const e of run.events) {
    if (e.type === 'image' && e.state === 'building') t.is(e.detail, WHY[e.image], `${e.image} ${e.platform} was built for the reason the plan gave`);
  }
});

test.serial('--force rebuilds everything even when nothing changed', async (t) => {
  t.deepEqual(byAction(await plan(t), 'reuse'), ALL, 'nothing changed since the last release');
  const rows = await plan(t, ['--force']);
  t.deepEqual(byAction(rows, 'build'), ALL);
  t.true(rows.every((r) => r.reason === 'forced rebuild'));

  const run = await runWithEvents(p, ['release', '--force', '--concurrency', '2', '--json']);
  t.is(run.code, 0, run.stderr);
  t.deepEqual(imagesIn(run.events, 'building'), ALL);
  t.deepEqual(imagesIn(run.events, 'reused'), []);
  const result = JSON.parse(run.stdout) as { number: number; images: Array<{ platforms: Record<string, { built: boolean; reason: string }> }> };
  t.true(result.images.every((i) => Object.values(i.platforms).every((pl) => pl.built && pl.reason === 'forced rebuild')));
  const verify = await p.eksd(['verify', `kubernetes-1-33-eks-${result.number}`]);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
});

test.serial('a published index with an unreadable build-inputs annotation does not stop the plan', async (t) => {
  const config = p.config();
  const registry = config.imageRepo.split('/')[0]!;
  const repository = `${config.imageRepo.slice(registry.length + 1)}/etcd-io/etcd`;
  const client = new RegistryClient({ registry });
  const index = await client.getManifest(repository, 'v3.5.21-eks-1-33-latest');
  const json = index.json as { manifests: Array<{ annotations: Record<string, string> }> };
  for (const m of json.manifests) m.annotations[ANNOTATION.buildInputs] = '{not json';
  await client.putManifest(repository, 'v3.5.21-eks-1-33-latest', new TextEncoder().encode(JSON.stringify(json)), MEDIA.ociIndex);
  const rows = await plan(t);
  t.deepEqual(byAction(rows, 'reuse'), ALL, 'the build keys still decide');
});
