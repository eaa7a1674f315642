import anyTest, { type TestFn } from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy, digestOf, emptyCopyStats, RegistryClient, RegistryError } from '../pipeline/registry/index.ts';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts';
import { buildImage, buildIndex, pseudoRandom, pushTestImage, startRegistry, type RunningRegistry } from './helpers/registry.ts';

const test = anyTest as TestFn<{ reg: RunningRegistry; reg2: RunningRegistry; proxy: FaultProxy; dir: string }>;

test.before(async (t) => {
  const [reg, reg2] = await Promise.all([startRegistry(), startRegistry()]);
  const proxy = await startFaultProxy({ target: reg.host, paginateTags: true });
  t.context = { reg, reg2, proxy, dir: await mkdtemp(join(tmpdir(), 'eksd-regtest-')) };
});

test.after.always(async (t) => {
  await t.context.proxy?.stop();
  await Promise.all([t.context.reg?.stop(), t.context.reg2?.stop()]);
  if (t.context.dir) await rm(t.context.dir, { recursive: true, force: true });
});

const client = (host: string, o: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}): RegistryClient =>
  new RegistryClient({ registry: host, retry: { attempts: 3, baseMs: 10, maxMs: 50 }, ...o });

test('blobs: push from a buffer, HEAD skip, get with digest check, stream', async (t) => {
  const c = client(t.context.reg.host);
  const bytes = pseudoRandom('blob-1', 100_000);
  const digest = digestOf(bytes);
  t.is(await c.headBlob('blobs/one', digest), undefined);
  t.deepEqual(await c.pushBlob('blobs/one', bytes), { digest, size: bytes.length, status: 'uploaded' });
  t.is((await c.pushBlob('blobs/one', bytes)).status, 'exists');
  t.is(await c.headBlob('blobs/one', digest), bytes.length);
  t.deepEqual(await c.getBlob('blobs/one', digest), bytes);
  const chunks: Uint8Array[] = [];
  for await (const ch of (await c.getBlobStream('blobs/one', digest)) as unknown as AsyncIterable<Uint8Array>) chunks.push(ch);
  t.deepEqual(Buffer.concat(chunks), bytes);
});

test.serial('blobs: push from a file (known digest, unknown digest) and chunked above the threshold', async (t) => {
  const { proxy } = t.context;
  const c = client(proxy.host, { chunkThreshold: 64 * 1024, chunkSize: 20_000 });
  const small = pseudoRandom('file-small', 50_000);
  const big = pseudoRandom('file-big', 150_001);
  const smallPath = join(t.context.dir, 'small.bin');
  const bigPath = join(t.context.dir, 'big.bin');
  await writeFile(smallPath, small);
  await writeFile(bigPath, big);
  proxy.resetCounts();
  const known = await c.pushBlob('blobs/file', { path: smallPath }, { digest: digestOf(small) });
  t.deepEqual(known, { digest: digestOf(small), size: small.length, status: 'uploaded' });
  const streamedSmall = pseudoRandom('file-small-2', 30_000);
  await writeFile(smallPath, streamedSmall);
  const computed = await c.pushBlob('blobs/file', { path: smallPath });
  t.deepEqual(computed, { digest: digestOf(streamedSmall), size: streamedSmall.length, status: 'uploaded' });
  t.is(proxy.forwarded['blob-upload-put'], 2);
  t.is(proxy.forwarded['blob-upload-patch'], 1, 'unknown digest: one streamed PATCH');
  proxy.resetCounts();
  const chunked = await c.pushBlob('blobs/file', { path: bigPath });
  t.is(chunked.digest, digestOf(big));
  t.is(proxy.forwarded['blob-upload-patch'], 8, '150001 bytes in 20000-byte chunks');
  t.deepEqual(await c.getBlob('blobs/file', digestOf(big)), big);
  const chunkedBuffer = await c.pushBlob('blobs/file-buf', big);
  t.is(chunkedBuffer.digest, digestOf(big));
  t.is(await c.headBlob('blobs/file-buf', digestOf(big)), big.length);
});

test('manifests: put exact bytes, head, get, delete; accept Docker and OCI types', async (t) => {
  const c = client(t.context.reg.host);
  for (const docker of [false, true]) {
    const repo = docker ? 'manifests/docker' : 'manifests/oci';
    const idx = buildIndex({ seed: `m-${docker}`, layerSizes: [1000, 2000], docker });
    t.is(await pushTestImage(c, repo, idx, 'v1'), idx.digest);
    t.deepEqual(await c.headManifest(repo, 'v1'), { mediaType: idx.mediaType, digest: idx.digest, size: idx.bytes.length });
    const got = await c.getManifest(repo, idx.digest);
    t.deepEqual(got.bytes, idx.bytes);
    t.is(got.mediaType, idx.mediaType);
    const child = await c.getManifest(repo, idx.images[0]!.digest);
    t.is(child.mediaType, idx.images[0]!.mediaType);
    t.is(child.json.layers?.length, 2);
  }
  const repo = 'manifests/oci';
  const img = buildImage({ seed: 'del', arch: 'amd64', layerSizes: [10] });
  await pushTestImage(c, repo, img);
  await c.deleteManifest(repo, img.digest);
  t.is(await c.headManifest(repo, img.digest), undefined);
  const e = await t.throwsAsync(c.getManifest(repo, 'nope'));
  t.is((e as RegistryError).code, 'REGISTRY_MANIFEST_UNKNOWN');
  t.regex(e!.message, new RegExp(`${t.context.reg.host}/manifests/oci:nope`));
});

test('manifests: an index whose children are missing is refused with MANIFEST_BLOB_UNKNOWN', async (t) => {
  const c = client(t.context.reg.host);
  const idx = buildIndex({ seed: 'orphan', layerSizes: [10] });
  const e = await t.throwsAsync(c.putManifest('manifests/orphan', 'v1', idx.bytes, idx.mediaType));
  t.is((e as RegistryError).code, 'REGISTRY_MANIFEST_BLOB_UNKNOWN');
  t.regex(e!.message, /manifests\/orphan:v1/);
  t.regex((e as RegistryError).hint ?? '', /child manifest/);
});

test('bad input fails before any request', async (t) => {
  const c = client(t.context.reg.host);
  const e = await t.throwsAsync(c.putManifest('Bad/Repo', 'v1', Buffer.from('{}'), 'x'));
  t.is((e as RegistryError).code, 'REGISTRY_INVALID_ARGUMENT');
  await t.throwsAsync(c.putManifest('ok/repo', 'v1+meta', Buffer.from('{}'), 'x'), { message: /ECR/ });
  await t.throwsAsync(copy({ from: { client: c, repo: 'a', ref: 'v1' }, to: { client: c, repo: 'b' }, tags: ['bad+tag'] }), { message: /\+/ });
});

test.serial('listTags follows Link pagination', async (t) => {
  const c = client(t.context.reg.host);
  const img = buildImage({ seed: 'tags', arch: 'amd64', layerSizes: [10] });
  await pushTestImage(c, 'tags/many', img);
  const tags = Array.from({ length: 23 }, (_, i) => `t${String(i).padStart(2, '0')}`);
  await Promise.all(tags.map((tag) => c.putManifest('tags/many', tag, img.bytes, img.mediaType)));
  t.context.proxy.resetCounts();
  const viaProxy = client(t.context.proxy.host);
  t.deepEqual((await viaProxy.listTags('tags/many', { pageSize: 5 })).sort(), tags);
  t.is(t.context.proxy.received.tags, 5);
  t.deepEqual((await c.listTags('tags/many')).sort(), tags);
});

test('mount: a blob is mounted across repositories; a mount of an absent blob falls back to upload', async (t) => {
  const c = client(t.context.reg.host);
  const bytes = pseudoRandom('mount', 5000);
  await c.pushBlob('mount/src', bytes);
  t.is((await c.pushBlob('mount/dst', bytes, { mountFrom: 'mount/src' })).status, 'mounted');
  const other = pseudoRandom('mount-2', 5000);
  const r = await c.pushBlob('mount/dst', other, { mountFrom: 'mount/nothing-here' });
  t.is(r.status, 'uploaded');
  t.deepEqual(await c.getBlob('mount/dst', r.digest), other);
});

test.serial('concurrent pushes of one digest to one repository upload once', async (t) => {
  const { proxy } = t.context;
  const c = client(proxy.host);
  const bytes = pseudoRandom('dedupe', 200_000);
  proxy.resetCounts();
  const results = await Promise.all(Array.from({ length: 6 }, () => c.pushBlob('dedupe/one', bytes)));
  t.true(results.every((r) => r.digest === digestOf(bytes)));
  t.is(proxy.forwarded['blob-upload-put'], 1);
  t.is(proxy.forwarded['blob-upload-start'], 1);
});

test('copy: a multi-arch index within one registry mounts blobs and keeps every digest', async (t) => {
  const c = client(t.context.reg.host);
  const idx = buildIndex({ seed: 'copy-same', layerSizes: [3000, 4000, 5000] });
  await pushTestImage(c, 'copy/src', idx, 'v1');
  const stats = emptyCopyStats();
  const digest = await copy({ from: { client: c, repo: 'copy/src', ref: 'v1' }, to: { client: c, repo: 'copy/dst' }, tags: ['a', 'b'], stats });
  t.is(digest, idx.digest);
  t.is(stats.blobsMounted, 8);
  t.is(stats.blobsUploaded, 0);
  t.is(stats.manifestsPushed, 3);
  t.deepEqual((await c.getManifest('copy/dst', 'a')).bytes, idx.bytes);
  for (const img of idx.images) t.deepEqual((await c.getManifest('copy/dst', img.digest)).bytes, img.bytes);
  t.deepEqual((await c.listTags('copy/dst')).sort(), ['a', 'b']);
  const again = emptyCopyStats();
  await copy({ from: { client: c, repo: 'copy/src', ref: 'v1' }, to: { client: c, repo: 'copy/dst' }, tags: ['a', 'c'], stats: again });
  t.deepEqual(again, { ...emptyCopyStats(), manifestsExisting: 1, tagsUnchanged: 1, tagsPushed: 1 });
});

test('copy: an image and an index across registries upload bytes and keep digests', async (t) => {
  const src = client(t.context.reg.host);
  const dst = client(t.context.reg2.host);
  const img = buildImage({ seed: 'copy-img', arch: 'arm64', layerSizes: [70_000] });
  await pushTestImage(src, 'xreg/img', img, 'v1');
  t.is(await copy({ from: { client: src, repo: 'xreg/img', ref: 'v1' }, to: { client: dst, repo: 'xreg/img-copy' }, tags: ['v1'] }), img.digest);
  t.deepEqual((await dst.getManifest('xreg/img-copy', 'v1')).bytes, img.bytes);
  const idx = buildIndex({ seed: 'copy-idx', layerSizes: [100_000, 2000], docker: true });
  await pushTestImage(src, 'xreg/idx', idx, 'v2');
  const stats = emptyCopyStats();
  t.is(await copy({ from: { client: src, repo: 'xreg/idx', ref: idx.digest }, to: { client: dst, repo: 'xreg/idx' }, tags: ['v2'], stats }), idx.digest);
  t.is(stats.blobsUploaded, 6);
  for (const b of idx.images.flatMap((i) => [i.config, ...i.layers])) t.deepEqual(await dst.getBlob('xreg/idx', b.digest), b.bytes);
  t.deepEqual((await dst.getManifest('xreg/idx', 'v2')).bytes, idx.bytes);
});

test('the host gate bounds requests in flight', async (t) => {
  const c = client(t.context.reg.host, { concurrency: 2 });
  const blobs = Array.from({ length: 10 }, (_, i) => pseudoRandom(`gate-${i}`, 20_000));
  let peak = 0;
  const timer = setInterval(() => { peak = Math.max(peak, c.inFlight); }, 1);
  await Promise.all(blobs.map((b) => c.pushBlob('gate/x', b)));
  clearInterval(timer);
  t.true(peak <= 2 && peak >= 1, `peak ${peak}`);
});
