/**
 * The assembler against BuildKit, on the real dockerd and registry: every qualifying image of the full
 * catalog, for both platforms, assembled and compared with what the release built through BuildKit
 * (BuildKitBuilder + exportImage, the production path), plus corner recipes built both ways here. The
 * flattened root filesystems (path, type, mode, uid, gid, size, content, link target), the entries of
 * each layer in their order (mtimes aside) and the config fields must be identical. Then an assembled
 * image is pulled and run by the engine and read by skopeo, and the same inputs assembled twice give the
 * same digests.
 */
import anyTest, { type TestFn } from 'ava';
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { assemble, type AssembleParent } from '../pipeline/builders/assembler/assemble.ts';
import { parentFsFromRegistry } from '../pipeline/builders/assembler/parent-fs.ts';
import { qualify } from '../pipeline/builders/assembler/qualify.ts';
import type { ParentConfig, Recipe } from '../pipeline/builders/assembler/recipe.ts';
import { BuildKitBuilder } from '../pipeline/builders/buildkit/builder.ts';
import { contextTar } from '../pipeline/builders/buildkit/context.ts';
import { contextFiles } from '../pipeline/stages/images/context.ts';
import type { ContextFile } from '../pipeline/image/context.ts';
import { exportImage } from '../pipeline/builders/buildkit/export.ts';
import type { Image as ExportedImage } from '../pipeline/image/image.ts';
import { loadCatalog } from '../pipeline/catalog/load.ts';
import type { Catalog, ImageSpec } from '../pipeline/catalog/model.ts';
import type { Platform } from '../pipeline/config/config.ts';
import { indexBytes } from '../pipeline/image/index.ts';
import { pushIndex } from '../pipeline/publish/index.ts';
import { pushPlatformImage } from '../pipeline/publish/platform-image.ts';
import { RegistryClient } from '../pipeline/registry/client.ts';
import type { Descriptor } from '../pipeline/image/media-types.ts';
import { fetchArtifacts, type FetchedArtifact } from '../pipeline/resolve/artifacts.ts';
import { LOCAL_REGISTRY, makeProject, REPO_ROOT, type TestProject } from './helpers/project.ts';

const run = promisify(execFile);
const DOCKER = '/usr/local/bin/docker';
const PLATFORMS: Platform[] = ['linux/amd64', 'linux/arm64'];
const EPOCH = 1_700_000_000;
const CORNER = join(REPO_ROOT, 'test', 'fixtures', 'assemble', 'corner');

interface JsonImage { name: string; uri: string; digest: string; platforms: Record<string, { digest: string }> }
interface Ctx {
  p: TestProject; catalog: Catalog; artifacts: FetchedArtifact[]; client: RegistryClient; docker: Docker;
  published: Map<string, JsonImage>; cacheRoot: string; socket: string; parents: Map<string, Promise<Parent>>;
}
interface Parent extends AssembleParent { repository: string; digest: string }

const test = anyTest as TestFn<Ctx>;

/** "127.0.0.1:5000/ns/x/y:tag" -> "ns/x/y" */
const repoOf = (uri: string): string => uri.slice(LOCAL_REGISTRY.length + 1).replace(/:[^:/]+$/, '');

test.before(async (t) => {
  const p = await makeProject({ catalog: 'full' });
  await p.seed();
  const r = await p.eksd(['release', '--until', 'publish', '--json', '--concurrency', '2']);
  if (r.code !== 0) throw new Error(`eksd release exited ${r.code}:\n${r.stderr.slice(-4000)}`);
  const config = p.config();
  const catalog = loadCatalog(config);
  const artifacts = await fetchArtifacts(catalog.components.flatMap((c) => c.artifacts), config.artifacts.baseUrl, config.artifacts.cacheDir);
  const published = new Map((JSON.parse(r.stdout) as { images: JsonImage[] }).images.map((i) => [i.name, i]));
  t.context = { p, catalog, artifacts, client: new RegistryClient({ registry: LOCAL_REGISTRY }), docker: new Docker({ socketPath: config.dockerSocket }),
    published, cacheRoot: await mkdtemp(join(tmpdir(), 'eksd-assemble-')), socket: config.dockerSocket, parents: new Map() };
});

test.after.always(async (t) => {
  await t.context.p?.cleanup();
  if (t.context.cacheRoot) await rm(t.context.cacheRoot, { recursive: true, force: true });
});

/** A published image's platform manifest as a parent: config, layers and root filesystem, read once. */
function parentOf(t: { context: Ctx }, name: string, platform: Platform): Promise<Parent> {
  const key = `${name} ${platform}`;
  const cached = t.context.parents.get(key);
  if (cached) return cached;
  const made = (async () => {
    const image = t.context.published.get(name)!;
    const repository = repoOf(image.uri);
    const digest = image.platforms[platform]!.digest;
    const { client } = t.context;
    const manifest = (await client.getManifest(repository, digest)).json as { config: Descriptor; layers: Descriptor[] };
    const layers = manifest.layers.map(({ mediaType, digest: d, size }) => ({ mediaType, digest: d, size }));
    return { repository, digest, config: await client.getBlob(repository, manifest.config.digest), layers, fs: await parentFsFromRegistry(client, repository, layers) };
  })();
  t.context.parents.set(key, made);
  return made;
}

function recipeOf(spec: ImageSpec, platform: Platform, parent: ParentConfig | undefined): ReturnType<typeof qualify> {
  return qualify({ dockerfile: readFileSync(spec.dockerfile, 'utf8'), file: relative(spec.contextDir, spec.dockerfile), platform,
    buildArgs: { BASE_IMAGE: 'parent', BUILDER_IMAGE: 'builder', ...spec.buildArgs }, ...(parent ? { parent } : {}) });
}

/** Assembles and pushes one platform image; its manifest digest. */
async function assembleAndPush(t: { context: Ctx }, recipe: Recipe, context: ContextFile[], parent: Parent, repository: string, cacheDir: string): Promise<{ digest: string; image: ExportedImage }> {
  const image = await assemble({ recipe, context, parent, sourceDateEpoch: EPOCH, cacheDir });
  const { descriptor } = await pushPlatformImage(t.context.client, repository, image, {}, { client: t.context.client, repository: parent.repository });
  return { digest: descriptor.digest, image };
}

interface Entry { type: string; mode: number; uid: number; gid: number; size: number; sha256?: string; link?: string }

interface ReadImage { fs: Map<string, Entry>; /** Per layer, its entries in tar order (path, type, mode, owner). */ layers: string[][] }

/** The root filesystem of a platform manifest (every layer applied, whiteouts honoured, mtimes left out) and what each layer holds. */
async function readImage(client: RegistryClient, repository: string, digest: string): Promise<ReadImage> {
  const manifest = (await client.getManifest(repository, digest)).json as { layers: Descriptor[] };
  const fs = new Map<string, Entry>();
  const layers: string[][] = [];
  for (const layer of manifest.layers) {
    const stream = await client.getBlobStream(repository, layer.digest);
    layers.push(await applyLayer(fs, stream));
  }
  return { fs, layers };
}

function applyLayer(fs: Map<string, Entry>, gz: Readable): Promise<string[]> {
  const ex = extract();
  const listing: string[] = [];
  return new Promise((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const path = `/${h.name.replace(/^\.?\/+/, '').replace(/\/+$/, '')}`;
      const base = path.slice(path.lastIndexOf('/') + 1);
      const dir = path.slice(0, path.lastIndexOf('/'));
      listing.push(`${path} ${h.type} ${((h.mode ?? 0) & 0o7777).toString(8)} ${h.uid}:${h.gid}${h.linkname ? ` -> ${h.linkname}` : ''}`);
      const drop = (p: string) => { for (const k of [...fs.keys()]) if (k === p || k.startsWith(`${p}/`)) fs.delete(k); };
      if (base === '.wh..wh..opq') { for (const k of [...fs.keys()]) if (k.startsWith(`${dir}/`)) fs.delete(k); }
      else if (base.startsWith('.wh.')) drop(`${dir}/${base.slice(4)}`);
      else if (h.type !== 'directory') drop(path);
      const hash = createHash('sha256');
      stream.on('data', (c: unknown) => hash.update(c as Buffer));
      stream.on('end', () => {
        if (!base.startsWith('.wh.') && path !== '/') {
          fs.set(path, { type: h.type ?? 'file', mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, size: h.size ?? 0,
            ...(h.type === 'file' ? { sha256: hash.digest('hex') } : {}), ...(h.linkname ? { link: h.linkname } : {}) });
        }
        next();
      });
    });
    ex.on('finish', () => resolve(listing));
    ex.on('error', reject);
    gz.on('error', reject).pipe(createGunzip()).on('error', reject).pipe(ex);
  });
}

const CONFIG_FIELDS = ['Env', 'Entrypoint', 'Cmd', 'User', 'WorkingDir', 'ExposedPorts', 'Labels', 'StopSignal'] as const;

async function configOf(client: RegistryClient, repository: string, digest: string): Promise<Record<string, unknown>> {
  const manifest = (await client.getManifest(repository, digest)).json as { config: Descriptor };
  return JSON.parse((await client.getBlob(repository, manifest.config.digest)).toString('utf8')) as Record<string, unknown>;
}

/** Every difference between the two images, each naming the path or field. */
async function differences(client: RegistryClient, a: { repository: string; digest: string }, b: { repository: string; digest: string }): Promise<string[]> {
  const [ia, ib, ca, cb] = await Promise.all([readImage(client, a.repository, a.digest), readImage(client, b.repository, b.digest),
    configOf(client, a.repository, a.digest), configOf(client, b.repository, b.digest)]);
  const out: string[] = [];
  for (const path of [...new Set([...ia.fs.keys(), ...ib.fs.keys()])].sort()) {
    const x = JSON.stringify(ia.fs.get(path) ?? null);
    const y = JSON.stringify(ib.fs.get(path) ?? null);
    if (x !== y) out.push(`${path}: assembled ${x}, BuildKit ${y}`);
  }
  if (ia.layers.length !== ib.layers.length) out.push(`layers: assembled ${ia.layers.length}, BuildKit ${ib.layers.length}`);
  ia.layers.forEach((layer, i) => {
    if (ib.layers[i] && JSON.stringify(layer) !== JSON.stringify(ib.layers[i])) out.push(`layer ${i}: assembled [${layer.join(', ')}], BuildKit [${ib.layers[i]!.join(', ')}]`);
  });
  const inner = (c: Record<string, unknown>) => (c.config ?? {}) as Record<string, unknown>;
  for (const f of CONFIG_FIELDS) {
    const x = JSON.stringify(inner(ca)[f] ?? null);
    const y = JSON.stringify(inner(cb)[f] ?? null);
    if (x !== y) out.push(`config.${f}: assembled ${x}, BuildKit ${y}`);
  }
  for (const f of ['architecture', 'os', 'variant']) {
    if (JSON.stringify(ca[f] ?? null) !== JSON.stringify(cb[f] ?? null)) out.push(`${f}: assembled ${JSON.stringify(ca[f])}, BuildKit ${JSON.stringify(cb[f])}`);
  }
  return out;
}

test('every qualifying image of the catalog, both platforms, assembled equals the BuildKit build', async (t) => {
  const { catalog, artifacts, client } = t.context;
  const cacheDir = join(t.context.cacheRoot, 'catalog');
  const qualifying = catalog.images.filter((spec) => recipeOf(spec, 'linux/amd64', {}).assemble);
  t.true(qualifying.length >= 16, `qualifying: ${qualifying.map((s) => s.name).join(', ')}`);
  const failures = (await Promise.all(qualifying.flatMap((spec) => PLATFORMS.map(async (platform) => {
    const parent = await parentOf(t, spec.from, platform);
    const env = (JSON.parse(parent.config.toString('utf8')) as { config?: ParentConfig }).config ?? {};
    const q = recipeOf(spec, platform, env);
    if (!q.assemble) return [`${spec.name} ${platform}: ${q.reason}`];
    const files = await contextFiles(spec, platform, artifacts);
    const built = t.context.published.get(spec.name)!;
    const mine = await assembleAndPush(t, q.recipe, files, parent, `${t.context.p.ns}/assembled/${spec.repository}`, cacheDir);
    const diff = await differences(client, { repository: `${t.context.p.ns}/assembled/${spec.repository}`, digest: mine.digest },
      { repository: repoOf(built.uri), digest: built.platforms[platform]!.digest });
    return diff.map((d) => `${spec.name} ${platform}: ${d}`);
  })))).flat();
  t.deepEqual(failures, []);
});

/** The corner recipe's context, listed as contextFiles lists a recipe folder. */
async function cornerContext(dir = CORNER, base = dir): Promise<ContextFile[]> {
  const out: ContextFile[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await cornerContext(full, base)));
    else out.push({ name: relative(base, full), source: full, origin: 'recipe', mode: statSync(full).mode & 0o111 ? 0o755 : 0o644,
      sha256: createHash('sha256').update(readFileSync(full)).digest('hex') });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Each corner recipe (test/fixtures/assemble/corner) and the catalog image it is built on. */
const CORNERS: Array<[string, string]> = [['Dockerfile', 'eks-distro-minimal-base'], ['Dockerfile.more', 'eks-distro-minimal-base'], ['Dockerfile.links', 'kube-proxy-base']];

for (const [dockerfile, parentName] of CORNERS) {
  test(`corner recipe ${dockerfile}: assembled equals the BuildKit build on both platforms`, async (t) => {
    const { client, docker } = t.context;
    const files = await cornerContext();
    const builder = new BuildKitBuilder(docker);
    const parentIndex = t.context.published.get(parentName)!;
    const tags: string[] = [];
    try {
      const failures = (await Promise.all(PLATFORMS.map(async (platform) => {
        const parent = await parentOf(t, parentName, platform);
        const config = (JSON.parse(parent.config.toString('utf8')) as { config?: ParentConfig }).config ?? {};
        const q = qualify({ dockerfile: readFileSync(join(CORNER, dockerfile), 'utf8'), file: `corner/${dockerfile}`, platform, buildArgs: { BASE_IMAGE: 'p' }, parent: config });
        if (!q.assemble) return [`${platform}: ${q.reason}`];
        const repository = `${t.context.p.ns}/corner-assembled/${dockerfile.toLowerCase()}`;
        const mine = await assembleAndPush(t, q.recipe, files, parent, repository, join(t.context.cacheRoot, 'corner'));
        const theirs = await buildKitImage(t, builder, { files, dockerfile, platform, parent, parentRepository: repoOf(parentIndex.uri), parentIndex: parentIndex.digest }, tags);
        return (await differences(client, { repository, digest: mine.digest }, theirs)).map((d) => `${dockerfile} ${platform}: ${d}`);
      }))).flat();
      t.deepEqual(failures, []);
    } finally {
      await builder.close();
      for (const tag of tags) await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
    }
  });
}

interface CornerBuild { files: ContextFile[]; dockerfile: string; platform: Platform; parent: Parent; parentRepository: string; parentIndex: string }

async function buildKitImage(t: { context: Ctx }, builder: BuildKitBuilder, b: CornerBuild, tags: string[]): Promise<{ repository: string; digest: string }> {
  const { client, docker } = t.context;
  const { files, dockerfile, platform, parent, parentRepository, parentIndex } = b;
  const tag = `eksd-test/corner:${platform.split('/')[1]}-${randomBytes(4).toString('hex')}`;
  tags.push(tag);
  const result = await builder.build({ image: 'corner', platform, context: contextTar(files), dockerfile, buildArgs: {}, tag,
    parents: { BASE_IMAGE: { client, repository: parentRepository, digest: parentIndex } } }, () => {});
  const diffIds = (JSON.parse(parent.config.toString('utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
  const exported = await exportImage(docker, result.imageId, { diffIds, layers: parent.layers }, join(t.context.cacheRoot, 'buildkit'), result.parentNames);
  const repository = `${t.context.p.ns}/corner-buildkit/${dockerfile.toLowerCase()}`;
  const { descriptor } = await pushPlatformImage(client, repository, exported, {}, { client, repository: parent.repository });
  return { repository, digest: descriptor.digest };
}

test('an assembled index: docker pulls and runs the arm64 image, skopeo reads it', async (t) => {
  const { catalog, artifacts, client } = t.context;
  const spec = catalog.images.find((i) => i.name === 'kube-proxy')!;
  const repository = `${t.context.p.ns}/run/${spec.repository}`;
  const entries = await Promise.all(PLATFORMS.map(async (platform) => {
    const parent = await parentOf(t, spec.from, platform);
    const q = recipeOf(spec, platform, {});
    if (!q.assemble) throw new Error(q.reason);
    const { digest } = await assembleAndPush(t, q.recipe, await contextFiles(spec, platform, artifacts), parent, repository, join(t.context.cacheRoot, 'run'));
    const m = await client.getManifest(repository, digest);
    return { platform, manifest: { mediaType: m.mediaType!, digest, size: m.bytes.length } };
  }));
  const index = await pushIndex(client, repository, indexBytes(entries, { 'org.opencontainers.image.created': new Date(EPOCH * 1000).toISOString() }));
  const ref = `${LOCAL_REGISTRY}/${repository}@${index.digest}`;
  const docker = (...args: string[]) => run(DOCKER, ['-H', `unix://${t.context.socket}`, ...args], { maxBuffer: 1 << 24 });
  try {
    await docker('pull', '--platform', 'linux/arm64', ref);
    const { stdout } = await docker('run', '--rm', '--platform', 'linux/arm64', '--network', 'none', ref, '/usr/local/bin/kube-proxy', '--version');
    t.regex(stdout, /arm64/, stdout);
    const { stdout: machine } = await docker('run', '--rm', '--platform', 'linux/arm64', '--network', 'none', '--entrypoint', '/bin/sh', ref, '-c', 'uname -m');
    t.is(machine.trim(), 'aarch64');
  } finally {
    await docker('image', 'rm', ref).catch(() => undefined);
  }
  const { stdout: raw } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { encoding: 'buffer', maxBuffer: 1 << 24 });
  t.is(`sha256:${createHash('sha256').update(raw).digest('hex')}`, index.digest);
  const arm = entries.find((e) => e.platform === 'linux/arm64')!.manifest.digest;
  const { stdout: config } = await run('skopeo', ['inspect', '--raw', '--config', '--tls-verify=false', `docker://${LOCAL_REGISTRY}/${repository}@${arm}`]);
  t.is((JSON.parse(config) as { architecture: string }).architecture, 'arm64');
});

test('the same inputs assembled twice from clean caches into two repositories give the same config and manifest digests', async (t) => {
  const { catalog, artifacts } = t.context;
  const files = await cornerContext();
  for (const [name, platform] of [['etcd', 'linux/arm64'], ['kube-apiserver', 'linux/amd64'], ['corner', 'linux/arm64']] as Array<[string, Platform]>) {
    const spec = catalog.images.find((i) => i.name === name);
    const parent = await parentOf(t, spec?.from ?? 'eks-distro-minimal-base', platform);
    const q = spec ? recipeOf(spec, platform, {}) : qualify({ dockerfile: readFileSync(join(CORNER, 'Dockerfile'), 'utf8'), file: 'corner/Dockerfile', platform, buildArgs: {}, parent: {} });
    if (!q.assemble) throw new Error(q.reason);
    const context = spec ? await contextFiles(spec, platform, artifacts) : files;
    const runs = [];
    for (const n of [1, 2]) {
      const cacheDir = await mkdtemp(join(t.context.cacheRoot, `repro-${n}-`));
      runs.push(await assembleAndPush(t, q.recipe, context, parent, `${t.context.p.ns}/repro-${n}/${name}`, cacheDir));
    }
    t.is(runs[0]!.image.configDigest, runs[1]!.image.configDigest, `${name} ${platform}: config`);
    t.deepEqual(runs[0]!.image.layers.map((l) => l.digest), runs[1]!.image.layers.map((l) => l.digest), `${name} ${platform}: layers`);
    t.is(runs[0]!.digest, runs[1]!.digest, `${name} ${platform}: manifest`);
  }
});
