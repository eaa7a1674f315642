/**
 * What a release publishes, checked against the real registry and by independent clients (skopeo and
 * the docker CLI): one OCI index per image with exactly linux/amd64 and linux/arm64, children whose
 * configs match their entries, the base annotations pointing at the parent index actually used; and a
 * second publish of the same build changes nothing.
 */
import anyTest, { type TestFn } from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadCatalog } from '../pipeline/catalog/load.ts';
import { UPSTREAM } from '../pipeline/catalog/model.ts';
import { ANNOTATION } from '../pipeline/image/annotations.ts';
import { MEDIA } from '../pipeline/image/media-types.ts';
import { RegistryClient } from '../pipeline/registry/index.ts';
import { makeProject, repositoriesOf, LOCAL_REGISTRY, type TestProject } from './helpers/project.ts';

const run = promisify(execFile);
const DOCKER = '/usr/local/bin/docker';

interface JsonImage { name: string; uri: string; digest: string; tags: string[]; platforms: Record<string, { digest: string; built: boolean }> }
interface JsonResult { number: number; images: JsonImage[] }
interface Index { schemaVersion: number; mediaType?: string; manifests: Array<{ mediaType: string; digest: string; size: number; platform: { os: string; architecture: string } }>; annotations?: Record<string, string> }

const test = anyTest as TestFn<{ p: TestProject; first: JsonResult; client: RegistryClient; pin: string; socket: string }>;

/** "127.0.0.1:5000/ns/x/y:tag" -> "ns/x/y" */
const repoOf = (uri: string): string => uri.slice(LOCAL_REGISTRY.length + 1).replace(/:[^:/]+$/, '');

async function publish(p: TestProject, args: string[] = []): Promise<JsonResult> {
  const r = await p.eksd(['release', '--until', 'publish', '--json', ...args]);
  if (r.code !== 0) throw new Error(`eksd release exited ${r.code}:\n${r.stderr.slice(-4000)}`);
  return JSON.parse(r.stdout) as JsonResult;
}

async function allTags(client: RegistryClient, images: JsonImage[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const i of images) out[i.name] = (await client.listTags(repoOf(i.uri))).sort();
  return out;
}

test.before(async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  const seeded = await p.seed();
  const first = await publish(p);
  t.context = { p, first, client: new RegistryClient({ registry: LOCAL_REGISTRY }), pin: seeded.base.digest, socket: p.config().dockerSocket };
});

test.after.always(async (t) => {
  await t.context.p?.cleanup();
});

test.serial('every image is an OCI index with exactly linux/amd64 and linux/arm64 and a top-level mediaType', async (t) => {
  const { first, client } = t.context;
  t.is(first.images.length, 5);
  for (const image of first.images) {
    const m = await client.getManifest(repoOf(image.uri), image.uri.split(':').pop()!);
    t.is(m.digest, image.digest, image.name);
    t.is(m.mediaType, MEDIA.ociIndex);
    const index = m.json as Index;
    t.is(index.mediaType, MEDIA.ociIndex, `${image.name}: top-level mediaType`);
    t.is(index.schemaVersion, 2);
    t.deepEqual(index.manifests.map((e) => `${e.platform.os}/${e.platform.architecture}`), ['linux/amd64', 'linux/arm64'], image.name);
    t.false(index.manifests.some((e) => e.platform.os === 'unknown' || e.platform.architecture === 'unknown'));
    for (const entry of index.manifests) {
      const child = await client.getManifest(repoOf(image.uri), entry.digest);
      t.is(child.mediaType, MEDIA.ociManifest);
      t.is(entry.size, child.bytes.length);
      const config = JSON.parse((await client.getBlob(repoOf(image.uri), (child.json as { config: { digest: string } }).config.digest)).toString('utf8')) as { architecture: string; os: string };
      t.is(config.architecture, entry.platform.architecture, `${image.name} ${entry.digest}: config architecture`);
      t.is(config.os, 'linux');
      t.is(image.platforms[`linux/${entry.platform.architecture}`]?.digest, entry.digest);
    }
    for (const key of [ANNOTATION.baseName, ANNOTATION.baseDigest, ANNOTATION.version, ANNOTATION.revision, ANNOTATION.source, ANNOTATION.created]) {
      t.true(index.annotations?.[key] !== undefined, `${image.name}: annotation ${key}`);
    }
  }
});

test.serial('the base.digest annotation is the digest of the parent index the image was built FROM', async (t) => {
  const { p, first, client, pin } = t.context;
  const catalog = loadCatalog(p.config());
  const byName = new Map(first.images.map((i) => [i.name, i]));
  for (const image of first.images) {
    const spec = catalog.images.find((i) => i.name === image.name)!;
    const index = (await client.getManifest(repoOf(image.uri), image.digest)).json as Index;
    const baseName = index.annotations![ANNOTATION.baseName]!;
    const baseDigest = index.annotations![ANNOTATION.baseDigest]!;
    if (spec.from === UPSTREAM) {
      t.is(baseDigest, pin, `${image.name}: FROM the pinned upstream`);
      t.is(baseName, `${LOCAL_REGISTRY}/${p.ns}/amazonlinux`);
    } else {
      const parent = byName.get(spec.from)!;
      // The parent's published index, as the registry serves it under its versioned tag.
      const parentHead = await client.headManifest(repoOf(parent.uri), parent.uri.split(':').pop()!);
      t.is(parentHead?.digest, baseDigest, `${image.name}: FROM ${spec.from}`);
      t.is(baseName, `${LOCAL_REGISTRY}/${repoOf(parent.uri)}`);
    }
    // Each platform manifest names the parent's platform manifest it was built on.
    for (const entry of index.manifests) {
      const child = (await client.getManifest(repoOf(image.uri), entry.digest)).json as { annotations: Record<string, string> };
      const parentIndex = (await client.getManifest(baseName.slice(LOCAL_REGISTRY.length + 1), baseDigest)).json as Index;
      const parentEntry = parentIndex.manifests.find((e) => e.platform.architecture === entry.platform.architecture);
      t.is(parentEntry?.digest, child.annotations[ANNOTATION.baseDigest]);
    }
  }
});

test.serial('skopeo reads the same index bytes and digest', async (t) => {
  const { first, client } = t.context;
  for (const image of first.images.filter((i) => ['kube-apiserver', 'eks-distro-minimal-base'].includes(i.name))) {
    const registryBytes = (await client.getManifest(repoOf(image.uri), image.digest)).bytes;
    for (const ref of [image.uri, `${LOCAL_REGISTRY}/${repoOf(image.uri)}@${image.digest}`]) {
      const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { encoding: 'buffer', maxBuffer: 1 << 24 });
      t.true(Buffer.compare(stdout, Buffer.from(registryBytes)) === 0, `${ref}: same bytes`);
      t.is(`sha256:${createHash('sha256').update(stdout).digest('hex')}`, image.digest);
    }
    const { stdout: arm } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--override-arch', 'arm64',
      `docker://${LOCAL_REGISTRY}/${repoOf(image.uri)}@${image.platforms['linux/arm64']!.digest}`]);
    t.is((JSON.parse(arm) as { mediaType: string }).mediaType, MEDIA.ociManifest);
  }
});

test.serial('docker pulls the arm64 image by index digest', async (t) => {
  const { first, socket } = t.context;
  const image = first.images.find((i) => i.name === 'kube-apiserver')!;
  const ref = `${LOCAL_REGISTRY}/${repoOf(image.uri)}@${image.digest}`;
  const docker = (...args: string[]) => run(DOCKER, ['-H', `unix://${socket}`, ...args], { maxBuffer: 1 << 24 });
  try {
    await docker('pull', '--platform', 'linux/arm64', ref);
    const { stdout } = await docker('image', 'inspect', '--format', '{{.Os}}/{{.Architecture}} {{json .RepoDigests}}', ref);
    t.regex(stdout, /^linux\/arm64 /);
    t.true(stdout.includes(image.digest), stdout);
  } finally {
    await docker('image', 'rm', ref).catch(() => undefined);
  }
});

test.serial('publishing the same build again is idempotent: same digests, no new tags, no new repositories', async (t) => {
  const { p, first, client } = t.context;
  const tagsBefore = await allTags(client, first.images);
  // Floating tags move only once a release is verified: after --until publish, the versioned tag alone.
  for (const image of first.images) t.deepEqual(tagsBefore[image.name], [image.tags[0]!], image.name);
  // The same command again (the run is still open: it resumes and finds everything done) ...
  const again = await publish(p);
  t.is(again.number, first.number);
  t.deepEqual(again.images.map((i) => [i.name, i.digest]), first.images.map((i) => [i.name, i.digest]));
  t.deepEqual(await allTags(client, first.images), tagsBefore);
  // ... and from a clean slate (journal gone): every platform is reused from the registry, where the
  // versioned tags of this release name it.
  rmSync(join(p.config().stateDir, 'runs'), { recursive: true, force: true });
  const fresh = await publish(p, ['--number', String(first.number)]);
  t.deepEqual(fresh.images.map((i) => [i.name, i.digest]), first.images.map((i) => [i.name, i.digest]));
  for (const image of fresh.images) {
    t.false(Object.values(image.platforms).some((pl) => pl.built), `${image.name} was not rebuilt`);
  }
  t.deepEqual(await allTags(client, first.images), tagsBefore);
  const repos = await repositoriesOf(p);
  t.is(repos.length, first.images.length + 1, repos.join(', '));
});
