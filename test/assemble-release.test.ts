/**
 * The assembler in a release, on the real dockerd and registry (mini catalog): the COPY-only component
 * images are assembled and the bases go through BuildKit; the plan says which path each platform takes
 * and why; the release verifies. After an AL2 update the components are re-assembled onto the new bases
 * with their component layers byte-identical to the previous release's, and none of them is uploaded
 * (uploads counted by the proxy, digests recorded in front of it). `--buildkit-only` sends every image
 * through BuildKit.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { ANNOTATION } from '../pipeline/image/annotations.ts';
import { RegistryClient } from '../pipeline/registry/client.ts';
import { referrers } from '../pipeline/registry/referrers.ts';
import { OCI_EMPTY_DIGEST } from '../pipeline/image/media-types.ts';
import { projectBehindProxy, startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts';
import { startRecorder, type Recorder } from './helpers/recorder.ts';
import { LOCAL_REGISTRY, makeProject, type TestProject } from './helpers/project.ts';
import { al2Update, imagesIn, releaseJson, runWithEvents, type EventRun } from './helpers/crash.ts';

interface PlanRow { image: string; platform: string; action: string; reason: string; via: string | null; viaReason: string | null; key: string | null; pushTo: string; tags: string[] }

const BASES = ['eks-distro-base', 'eks-distro-minimal-base'];
const COMPONENTS = ['etcd', 'go-runner', 'kube-apiserver'];
const PLATFORMS = ['linux/amd64', 'linux/arm64'];
const pairs = (images: string[]) => images.flatMap((i) => PLATFORMS.map((p) => `${i} ${p}`)).sort();
const UPLOADS = ['blob-upload-start', 'blob-upload-patch', 'blob-upload-put'];

let p: TestProject;
let proxy: FaultProxy;
let recorder: Recorder;
/** The component index digests the AL2-update release pushed. */
let assembledIndexes: Record<string, string> = {};

test.before(async () => {
  recorder = await startRecorder(LOCAL_REGISTRY);
  proxy = await startFaultProxy({ target: recorder.host, probability: 0 });
  p = await makeProject({ catalog: 'mini' });
  await projectBehindProxy(p, proxy.host, recorder.host);
});

test.after.always(async () => {
  await p?.cleanup();
  await proxy?.stop();
  await recorder?.stop();
});

async function plan(t: ExecutionContext, args: string[] = []): Promise<PlanRow[]> {
  const r = await p.eksd(['plan', '--json', ...args]);
  t.is(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { decisions: PlanRow[] }).decisions;
}

const via = (rows: PlanRow[], path: string) => rows.filter((r) => r.via === path).map((r) => `${r.image} ${r.platform}`).sort();
/** "assembled, 1 layers" from the assembler, "N steps, M cached" from BuildKit. */
const builtBy = (run: EventRun, assembled: boolean) => run.events.filter((e) => e.type === 'image' && e.state === 'built' && e.detail?.startsWith('assembled') === assembled)
  .map((e) => `${(e as { image: string }).image} ${(e as { platform: string }).platform}`).sort();

const componentIndexes = (run: EventRun) => Object.fromEntries(releaseJson(run).images.filter((i) => COMPONENTS.includes(i.name)).map((i) => [i.name, i.digest]));

async function release(t: ExecutionContext, args: string[] = [], env: Record<string, string> = {}): Promise<EventRun> {
  const run = await runWithEvents(p, ['release', '--concurrency', '2', '--json', ...args], { env });
  t.is(run.code, 0, run.stderr.slice(-3000));
  const verify = await p.eksd(['verify', `kubernetes-1-33-eks-${releaseJson(run).number}`]);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
  return run;
}

/** Per component image and platform (as the floating tag holds it): the layers it adds to its parent's, by digest. */
/** The blobs attached to the components' current images: their bundles, and the empty config all artifacts share. */
async function attestationBlobs(t: ExecutionContext): Promise<string[]> {
  const registry = new RegistryClient({ registry: LOCAL_REGISTRY });
  const out = [OCI_EMPTY_DIGEST];
  for (const row of (await plan(t)).filter((r) => COMPONENTS.includes(r.image) && r.platform === 'linux/amd64')) {
    const repository = row.pushTo.slice(row.pushTo.indexOf('/') + 1);
    const index = await registry.getManifest(repository, row.tags.find((x) => x.endsWith('-latest'))!);
    const subjects = [index.digest, ...(index.json as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest)];
    for (const subject of subjects) {
      for (const d of await referrers(registry, repository, subject)) {
        out.push(...((await registry.getManifest(repository, d.digest)).json as { layers: Array<{ digest: string }> }).layers.map((l) => l.digest));
      }
    }
  }
  return out;
}

async function componentLayers(t: ExecutionContext): Promise<Record<string, string[]>> {
  const registry = new RegistryClient({ registry: LOCAL_REGISTRY });
  const manifestOf = async (repository: string, ref: string) => (await registry.getManifest(repository, ref)).json as {
    manifests?: Array<{ digest: string; platform: { architecture: string } }>; layers?: Array<{ digest: string }>; annotations?: Record<string, string> };
  const out: Record<string, string[]> = {};
  for (const row of (await plan(t)).filter((r) => COMPONENTS.includes(r.image) && r.platform === 'linux/amd64')) {
    const repository = row.pushTo.slice(row.pushTo.indexOf('/') + 1);
    const index = await manifestOf(repository, row.tags.find((x) => x.endsWith('-latest'))!);
    for (const m of index.manifests!) {
      const manifest = await manifestOf(repository, m.digest);
      const baseName = manifest.annotations![ANNOTATION.baseName]!;
      const parent = await manifestOf(baseName.slice(baseName.indexOf('/') + 1), manifest.annotations![ANNOTATION.baseDigest]!);
      const inherited = new Set(parent.layers!.map((l) => l.digest));
      out[`${row.image} linux/${m.platform.architecture}`] = manifest.layers!.map((l) => l.digest).filter((d) => !inherited.has(d));
    }
  }
  return out;
}

test.serial('a release assembles the COPY-only components, builds the bases through BuildKit and verifies', async (t) => {
  const rows = await plan(t);
  t.deepEqual(via(rows, 'assemble'), pairs(COMPONENTS));
  t.deepEqual(via(rows, 'buildkit'), pairs(BASES));
  for (const r of rows) t.is(r.action, 'build', `${r.image} ${r.platform}`);
  t.regex(rows.find((r) => r.image === 'eks-distro-base')!.viaReason!, /^RUN at .*Dockerfile:\d+/);
  t.true(rows.filter((r) => r.via === 'assemble').every((r) => r.viaReason === 'COPY-only recipe'));
  const text = await p.eksd(['plan']);
  t.regex(text.stdout, /etcd\s+linux\/arm64\s+build\s+\S.*\s+assemble\s/);
  t.regex(text.stdout, /6 assembled, 4 through BuildKit/);

  const run = await release(t);
  t.deepEqual(builtBy(run, true), pairs(COMPONENTS), 'the components were assembled');
  t.deepEqual(builtBy(run, false), pairs(BASES), 'the bases went through BuildKit');
  const after = await plan(t);
  t.true(after.every((r) => r.action === 'reuse' && r.via === null), 'a re-run reuses every image');
});

test.serial('after an AL2 update the components are re-assembled, keep their layers, and upload none of them', async (t) => {
  const before = await componentLayers(t);
  t.true(Object.keys(before).length === 6 && Object.values(before).every((l) => l.length > 0), JSON.stringify(before));
  await al2Update(t, p);
  const rows = await plan(t);
  t.deepEqual(via(rows, 'assemble'), pairs(COMPONENTS));
  proxy.resetCounts();
  recorder.lines.length = 0;
  const run = await release(t);
  t.deepEqual(builtBy(run, true), pairs(COMPONENTS));
  assembledIndexes = componentIndexes(run);
  const after = await componentLayers(t);
  t.deepEqual(after, before, 'the component layers are the previous release\'s, digest for digest');
  const layers = new Set(Object.values(after).flat());
  const uploaded = recorder.lines.filter((l) => l.startsWith('PUT ') && l.includes('/blobs/uploads/')).map((l) => decodeURIComponent(l));
  t.deepEqual(uploaded.filter((l) => [...layers].some((d) => l.includes(d))), [], 'no component layer was uploaded');
  const toComponents = uploaded.filter((l) => !l.includes('/eks-distro-build-tooling/'));
  // Beside its images, a repository receives the new digests' signatures, SBOMs and provenance: one bundle each, nothing else.
  const bundles = await attestationBlobs(t);
  const [attestations, images] = [toComponents.filter((l) => bundles.some((d) => l.includes(d))), toComponents.filter((l) => !bundles.some((d) => l.includes(d)))];
  t.is(images.length, pairs(COMPONENTS).length, 'a component repository receives one config per platform and nothing else');
  t.is(attestations.length, COMPONENTS.length * 7, 'and one bundle per statement: a signature for each index, three statements per platform manifest');
  t.log(`uploads through the proxy: ${JSON.stringify(Object.fromEntries(UPLOADS.map((k) => [k, proxy.received[k] ?? 0])))}; to component repositories: ${toComponents.length}`);
});

test.serial('--buildkit-only builds every image through BuildKit, rebuilding what was assembled', async (t) => {
  const rows = await plan(t, ['--buildkit-only']);
  t.deepEqual(rows.filter((r) => r.action === 'build').map((r) => `${r.image} ${r.platform}`).sort(), pairs(COMPONENTS), 'switching paths changes the build key');
  t.true(rows.filter((r) => r.action === 'build').every((r) => r.via === 'buildkit' && r.reason.includes('build path changed to BuildKit')), JSON.stringify(rows));
  const run = await release(t, ['--buildkit-only']);
  t.deepEqual(builtBy(run, true), [], 'nothing was assembled');
  t.deepEqual(imagesIn(run.events, 'building'), pairs(COMPONENTS));
  t.deepEqual(builtBy(run, false), pairs(COMPONENTS));
});

test.serial('a run that only assembles never starts the engine', async (t) => {
  const rows = await plan(t);
  t.deepEqual(via(rows, 'assemble'), pairs(COMPONENTS), 'back from BuildKit to the assembler: the components are built again');
  t.true(rows.filter((r) => r.action === 'build').every((r) => r.reason.includes('build path changed to the assembler')), JSON.stringify(rows));
  const run = await release(t, [], { EKSD_DOCKER_SOCKET: '/nonexistent/docker.sock' });
  t.deepEqual(builtBy(run, true), pairs(COMPONENTS));
  t.deepEqual(builtBy(run, false), []);
  t.deepEqual(componentIndexes(run), assembledIndexes, 'the same inputs assembled again give the same index digests');
});
