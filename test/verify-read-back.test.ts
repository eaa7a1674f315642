/**
 * Verify reads each image back from the registry; channels of one run list the same images, so what one
 * verify of the process found served by digest is not read again, while tags always are, and what was
 * missing is read again the next time (a real registry behind a recording proxy).
 */
import anyTest, { type TestFn } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient } from '../pipeline/registry/client.ts';
import { API_VERSION, type Release } from '../pipeline/release/types.ts';
import { verifyRelease } from '../pipeline/site/verify.ts';
import { DirStore } from '../pipeline/store/dir.ts';
import { startRecorder, type Recorder } from './helpers/recorder.ts';
import { buildIndex, pushTestImage, startRegistry, type RunningRegistry, type TestIndex } from './helpers/registry.ts';

const test = anyTest.serial as TestFn<{ reg: RunningRegistry; recorder: Recorder; dir: string }>;

test.before(async (t) => {
  const reg = await startRegistry();
  t.context = { reg, recorder: await startRecorder(reg.host), dir: mkdtempSync(join(tmpdir(), 'eksd-verify-')) };
});

test.after.always(async (t) => {
  await t.context.recorder?.stop();
  await t.context.reg?.stop();
  rmSync(t.context.dir, { recursive: true, force: true });
});

function releaseOf(channel: string, host: string, repo: string, tag: string, index: TestIndex): Release {
  return { apiVersion: API_VERSION, kind: 'Release', metadata: { name: `kubernetes-${channel}-eks-1`, creationTimestamp: null },
    spec: { channel, number: 1 }, status: { date: '2026-12-05T00:00:00Z', components: [{ name: 'kubernetes', gitTag: 'v1', assets: [{
      name: 'pause-image', type: 'Image', os: 'linux', arch: ['amd64', 'arm64'], description: 'pause',
      image: { uri: `${host}/${repo}:${tag}`, imageDigest: index.digest } }] }] } };
}

function verify(t: { context: { recorder: Recorder; dir: string } }, release: Release) {
  const clients = new Map<string, RegistryClient>();
  const client = (registry: string) => clients.get(registry) ?? clients.set(registry, new RegistryClient({ registry })).get(registry)!;
  return verifyRelease(release, { client, site: new DirStore(t.context.dir), siteBaseUrl: 'https://distro.example.com', attempts: 1 });
}

test('two channels listing one image: the second verify reads its tag and nothing else; both see every blob', async (t) => {
  const { reg, recorder } = t.context;
  const repo = 'verify/shared';
  const index = buildIndex({ seed: 'shared', layerSizes: [64, 32] });
  await pushTestImage(new RegistryClient({ registry: reg.host }), repo, index, 'v1');
  recorder.lines.length = 0;
  const first = await verify(t, releaseOf('1-33', recorder.host, repo, 'v1', index));
  t.deepEqual(first.problems, []);
  t.is(first.blobs, 6);
  const reads = recorder.lines.length;
  t.is(reads, 1 + 1 + 2 + 6);
  recorder.lines.length = 0;
  const second = await verify(t, releaseOf('1-34', recorder.host, repo, 'v1', index));
  t.deepEqual(second.problems, []);
  t.deepEqual([second.manifests, second.blobs], [first.manifests, first.blobs]);
  t.deepEqual(recorder.lines, [`HEAD /v2/${repo}/manifests/v1`]);
});

test('a blob missing at one verify is read again at the next, and found once pushed', async (t) => {
  const { reg, recorder } = t.context;
  const repo = 'verify/late-blob';
  const index = buildIndex({ seed: 'late', arches: ['amd64'], layerSizes: [48] });
  const image = index.images[0]!;
  const client = new RegistryClient({ registry: reg.host });
  await pushTestImage(client, repo, index, 'v1');
  // Another repository's manifest may list a layer this one lacks: the same layer, deleted here.
  const release = { ...releaseOf('1-35', recorder.host, repo, 'v1', index) };
  release.status.components[0]!.assets[0]!.arch = ['amd64'];
  const layer = image.layers[0]!;
  await fetch(`http://${reg.host}/v2/${repo}/blobs/${layer.digest}`, { method: 'DELETE' });
  const missing = await verify(t, release);
  t.deepEqual(missing.problems.map((p) => p.problem), [`blob ${layer.digest} of manifest ${image.digest} is missing from ${repo}`]);
  await new RegistryClient({ registry: reg.host }).pushBlob(repo, layer.bytes, { digest: layer.digest, fresh: true });
  recorder.lines.length = 0;
  const found = await verify(t, release);
  t.deepEqual(found.problems, []);
  t.deepEqual(recorder.lines.filter((l) => l.startsWith('HEAD /v2/verify/late-blob/blobs/')), [`HEAD /v2/${repo}/blobs/${layer.digest}`]);
});
