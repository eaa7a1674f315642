/**
 * The publish race, against the real local registry: every round pushes a parent image (linux/amd64 and
 * linux/arm64) and then several child images at once, each into its own repository, the children
 * mounting the parent's layers. Layers are shared across platforms and across images. The two platforms
 * of an image finish building at different times: the second one's push starts just as the first one's
 * manifest goes up (within a few ms), while that PUT is checking the blobs both share (the parent's two
 * platforms start a few ms apart instead, joining uploads still in flight). Every manifest
 * PUT must succeed and every blob of every manifest must be in its repository, round after round, under
 * fresh repository names in a namespace of this run.
 */
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Image as ExportedImage, Layer as LayerBlob } from '../pipeline/image/image.ts';
import { MEDIA } from '../pipeline/image/media-types.ts';
import { pushPlatformImage } from '../pipeline/publish/platform-image.ts';
import type { ImageSource } from '../pipeline/registry/image.ts';
import { RegistryClient, RegistryError } from '../pipeline/registry/index.ts';
import { envUp } from '../dev/env/local.ts';
import { startFaultProxy } from './helpers/fault-proxy.ts';
import { LOCAL_REGISTRY } from './helpers/project.ts';
import { pseudoRandom, startRegistry, tarGz } from './helpers/registry.ts';

const ROUNDS = 12;
const CHILDREN = 4;
const PLATFORMS = ['amd64', 'arm64'] as const;
/** The second platform's push starts up to this many ms after the first one's manifest PUT. */
const JITTER_MS = 3;
/** Or, for the parent, up to this many ms after the first one's push started. */
const STAGGER_MS = 20;

type Arch = (typeof PLATFORMS)[number];

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Layer extends LayerBlob { diffId: string }

/** The run's one client (as in a release), telling when a manifest PUT to a repository starts. */
class WatchedClient extends RegistryClient {
  private readonly watchers = new Map<string, Array<() => void>>();

  /** Resolves when the next manifest PUT to `repository` is sent. */
  manifestPut(repository: string): Promise<void> {
    return new Promise((resolve) => this.watchers.set(repository, [...this.watchers.get(repository) ?? [], resolve]));
  }

  override putManifest(repo: string, ref: string, bytes: Uint8Array, mediaType: string): Promise<string> {
    const put = super.putManifest(repo, ref, bytes, mediaType);
    for (const w of this.watchers.get(repo) ?? []) w();
    this.watchers.delete(repo);
    return put;
  }
}

/** Writes one gzip tar layer of pseudo-random content to `dir`; the same seed gives the same digest. */
async function layer(dir: string, seed: string, size: number): Promise<Layer> {
  const { tar, gz } = tarGz([{ name: `data/${seed.replace(/\W/g, '-')}.bin`, content: pseudoRandom(seed, size) }]);
  const digest = sha256(gz);
  const path = join(dir, digest.slice(7));
  await writeFile(path, gz);
  return { mediaType: MEDIA.ociLayerGzip, digest, size: gz.length, path, diffId: sha256(tar) };
}

function image(arch: Arch, name: string, layers: Layer[], inherited: number): ExportedImage {
  const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: { Labels: { name } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }));
  return { config, configDigest: sha256(config), inherited,
    layers: layers.map(({ mediaType, digest, size, path }, i) => ({ mediaType, digest, size, ...(i < inherited ? {} : { path: path! }) })) };
}

/**
 * The layers of one round. The parent has layers common to both platforms (data, certificates) and
 * per-platform ones; every child has a layer common to all children, one of its own for both platforms,
 * and one per platform.
 */
async function roundLayers(dir: string, round: string): Promise<{ parent: Record<Arch, Layer[]>; child: (k: number, arch: Arch) => Promise<Layer[]> }> {
  const common = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => layer(dir, `${round}/base/common-${i}`, 2000 + i * 300)));
  const parent = {} as Record<Arch, Layer[]>;
  for (const arch of PLATFORMS) {
    const own = await Promise.all([0, 1].map((i) => layer(dir, `${round}/base/${arch}-${i}`, 3000 + i * 500)));
    parent[arch] = [common[0]!, own[0]!, common[1]!, common[2]!, own[1]!, common[3]!, common[4]!, common[5]!];
  }
  const shared = await layer(dir, `${round}/children-common`, 1500);
  return {
    parent,
    child: async (k, arch) => [...parent[arch], shared, await layer(dir, `${round}/child-${k}`, 1200 + k * 100),
      await layer(dir, `${round}/child-${k}/${arch}`, 1000 + k * 100)],
  };
}

interface Pushed { repository: string; arch: Arch; digest: string }

/** Pushes one platform image; a failure is collected, not thrown. */
async function pushOne(client: WatchedClient, repository: string, arch: Arch, image: ExportedImage, parent: ImageSource | undefined,
  failures: string[]): Promise<Pushed | undefined> {
  try {
    const { descriptor } = await pushPlatformImage(client, repository, image, { 'org.example.arch': arch }, parent);
    return { repository, arch, digest: descriptor.digest };
  } catch (e) {
    failures.push(`${repository} linux/${arch}: ${e instanceof RegistryError ? `${e.code} ${e.message}` : String(e)}`);
    return undefined;
  }
}

/**
 * Pushes both platforms of one image (in a random order), the second as the first one's manifest goes up,
 * or (`staggered`) a few ms after the first started.
 */
async function pushBoth(client: WatchedClient, repository: string, images: Record<Arch, ExportedImage>, parent: ImageSource | undefined,
  failures: string[], staggered = false): Promise<Pushed[]> {
  const [a, b] = Math.random() < 0.5 ? PLATFORMS : [PLATFORMS[1], PLATFORMS[0]];
  const putting = client.manifestPut(repository);
  const first = pushOne(client, repository, a, images[a], parent, failures);
  if (staggered) await sleep(Math.random() * STAGGER_MS);
  else await Promise.race([putting, first]).then(() => sleep(Math.random() * JITTER_MS));
  const second = await pushOne(client, repository, b, images[b], parent, failures);
  return [await first, second].filter((p): p is Pushed => p !== undefined);
}

/** Blobs of the manifest that its repository does not have (HEAD by digest). */
async function missingBlobs(client: RegistryClient, p: Pushed): Promise<string[]> {
  const m = await client.getManifest(p.repository, p.digest);
  const blobs = [m.json.config!, ...(m.json.layers ?? [])];
  const sizes = await Promise.all(blobs.map((b) => client.headBlob(p.repository, b.digest)));
  return blobs.filter((b, i) => sizes[i] !== b.size).map((b) => `${p.repository}@${b.digest} (linux/${p.arch})`);
}

async function round(client: WatchedClient, dir: string, ns: string, n: number): Promise<{ failures: string[]; missing: string[] }> {
  const name = `${ns}/r${n}`;
  const layers = await roundLayers(dir, name);
  const failures: string[] = [];
  const base = `${name}/base`;
  const parentImages = { amd64: image('amd64', base, layers.parent.amd64, 0), arm64: image('arm64', base, layers.parent.arm64, 0) };
  const pushed = await pushBoth(client, base, parentImages, undefined, failures, true);
  const inherited = layers.parent.amd64.length;
  const children = await Promise.all(Array.from({ length: CHILDREN }, async (_, k) => {
    const repository = `${name}/image-${k}`;
    const images = {} as Record<Arch, ExportedImage>;
    for (const arch of PLATFORMS) images[arch] = image(arch, repository, await layers.child(k, arch), inherited);
    return pushBoth(client, repository, images, { client, repository: base }, failures);
  }));
  pushed.push(...children.flat());
  const missing = (await Promise.all(pushed.map((p) => missingBlobs(client, p)))).flat();
  return { failures, missing };
}

test.before(async () => {
  await envUp();
});

test('concurrent platform pushes sharing layers put every manifest, with every blob in its repository', async (t) => {
  t.timeout(120_000);
  const ns = `race-${randomBytes(4).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'eksd-race-'));
  const client = new WatchedClient({ registry: LOCAL_REGISTRY });
  const failed: string[] = [];
  let failedRounds = 0;
  try {
    for (let n = 0; n < ROUNDS; n++) {
      const { failures, missing } = await round(client, dir, ns, n);
      if (failures.length + missing.length > 0) failedRounds++;
      failed.push(...failures, ...missing.map((m) => `missing ${m}`));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  t.log(`${ROUNDS} rounds of ${(CHILDREN + 1) * PLATFORMS.length} platform images under ${LOCAL_REGISTRY}/${ns}: ${failedRounds} failed`);
  t.deepEqual(failed, [], `${failedRounds} of ${ROUNDS} rounds failed`);
});

test('each blob is linked into a repository once: a sibling platform or a second client sends no mount or upload for it', async (t) => {
  const ns = `race-${randomBytes(4).toString('hex')}/once`;
  const dir = await mkdtemp(join(tmpdir(), 'eksd-race-'));
  const proxy = await startFaultProxy({ target: LOCAL_REGISTRY });
  try {
    const client = new RegistryClient({ registry: proxy.host });
    const layers = await roundLayers(dir, ns);
    const base = `${ns}/base`;
    for (const arch of PLATFORMS) await pushPlatformImage(client, base, image(arch, base, layers.parent[arch], 0), {}, undefined);
    const repository = `${ns}/image`;
    const parent = { client, repository: base };
    const inherited = layers.parent.amd64.length;
    const amd64 = image('amd64', repository, await layers.child(0, 'amd64'), inherited);
    const arm64 = image('arm64', repository, await layers.child(0, 'arm64'), inherited);

    proxy.resetCounts();
    t.like((await pushPlatformImage(client, repository, amd64, {}, parent)).stats, { mounted: inherited, uploaded: 4, existing: 0 });
    t.is(proxy.forwarded['blob-mount'], inherited);

    // arm64 shares six parent layers and two child layers with amd64: only its own blobs are sent.
    proxy.resetCounts();
    t.like((await pushPlatformImage(client, repository, arm64, {}, parent)).stats, { mounted: 2, uploaded: 2, existing: 8 });
    t.is(proxy.forwarded['blob-mount'], 2);
    t.is(proxy.forwarded['blob-upload-put'], 2);

    // Another client (a later run): every blob is found by HEAD, none is mounted or uploaded again.
    proxy.resetCounts();
    const later = new RegistryClient({ registry: proxy.host });
    t.like((await pushPlatformImage(later, repository, amd64, {}, { client: later, repository: base })).stats, { mounted: 0, uploaded: 0, existing: 12 });
    t.is(proxy.forwarded['blob-mount'] ?? 0, 0);
    t.is(proxy.forwarded['blob-upload-start'] ?? 0, 0);
    t.is(proxy.forwarded['blob-head'], 12);
  } finally {
    await proxy.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a manifest PUT that meets a blob link being rewritten reports both codes, typed as the blob unknown, naming the blob', async (t) => {
  const reg = await startRegistry();
  const dir = await mkdtemp(join(tmpdir(), 'eksd-race-'));
  try {
    const client = new RegistryClient({ registry: reg.host });
    const l = await layer(dir, 'link-rewritten', 2000);
    const img = image('amd64', 'link', [l], 0);
    await client.pushBlob('ns/link', { path: l.path! }, { digest: l.digest, size: l.size });
    // The registry's filesystem storage truncates a link before writing it again: what a concurrent PUT reads.
    await writeFile(join(reg.dir, 'data/docker/registry/v2/repositories/ns/link/_layers/sha256', l.digest.slice(7), 'link'), '');
    const e = await t.throwsAsync(pushPlatformImage(client, 'ns/link', img, {}, undefined)) as RegistryError;
    t.is(e.code, 'REGISTRY_MANIFEST_BLOB_UNKNOWN');
    t.deepEqual(e.registryErrors?.map((x) => x.code), ['DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN']);
    t.regex(e.message, /\(HTTP 400 MANIFEST_BLOB_UNKNOWN, DIGEST_INVALID\)/);
    t.true(e.message.includes(l.digest));
    t.true(e.hint!.includes(`ns/link does not have ${l.digest}`), e.hint);
    t.regex(e.hint!, /DIGEST_INVALID: next to MANIFEST_BLOB_UNKNOWN this is no bad content/);
  } finally {
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
