import anyTest, { type TestFn } from 'ava';
import { execFileSync } from 'node:child_process';
import { isEksdError } from '../pipeline/errors.ts';
import { copy, digestOf, OCI_EMPTY, OCI_EMPTY_DIGEST, OCI_INDEX, OCI_MANIFEST, RegistryClient, type Descriptor } from '../pipeline/registry/index.ts';
import { artifactManifest, attach, copyReferrers, referrers, referrersTag, type Artifact } from '../pipeline/registry/referrers.ts';
import { startRecorder } from './helpers/recorder.ts';
import { startReferrersProxy } from './helpers/referrers-proxy.ts';
import { buildImage, pushTestImage, startRegistry, type RunningRegistry } from './helpers/registry.ts';

const test = anyTest as TestFn<{ reg: RunningRegistry; other: RunningRegistry }>;

test.before(async (t) => {
  const [reg, other] = await Promise.all([startRegistry(), startRegistry()]);
  t.context = { reg, other };
});

test.after.always(async (t) => {
  await Promise.all([t.context.reg?.stop(), t.context.other?.stop()]);
});

const SIG = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const SBOM = 'application/vnd.cyclonedx+json';

function artifact(name: string, artifactType = SIG): Artifact {
  return { artifactType, mediaType: artifactType, bytes: Buffer.from(JSON.stringify({ name })), annotations: { 'org.example.name': name } };
}

/** A subject image pushed to the repository (unless `push` is false); its descriptor. */
async function subject(client: RegistryClient, repo: string, seed: string, push = true): Promise<Descriptor> {
  const img = buildImage({ seed, arch: 'amd64', layerSizes: [64] });
  if (push) await pushTestImage(client, repo, img);
  return { mediaType: img.mediaType, digest: img.digest, size: img.bytes.length };
}

/** The repository's tags; none when the registry knows the repository by no tag (distribution answers 404 NAME_UNKNOWN). */
async function tagsOf(client: RegistryClient, repo: string): Promise<string[]> {
  return client.listTags(repo).catch((e: unknown) => { if (isEksdError(e, 'REGISTRY_NAME_UNKNOWN')) return []; throw e; });
}

const digests = (list: Descriptor[]): string[] => list.map((d) => d.digest).sort();

test('referrersTag follows the tag schema: ":" and other characters to "-", algorithm ≤32 and encoded ≤64 characters', (t) => {
  t.is(referrersTag('sha256:abc'), 'sha256-abc');
  const hex = 'ab'.repeat(64);
  t.is(referrersTag(`sha512:${hex}`), `sha512-${hex.slice(0, 64)}`);
  t.is(referrersTag(`sha256+b64u:${'x'.repeat(10)}`), `sha256-b64u-${'x'.repeat(10)}`);
  t.is(referrersTag(`${'a'.repeat(40)}:00`), `${'a'.repeat(32)}-00`);
});

test('artifactManifest: empty config, one layer, subject; the same bytes whatever the annotations order', (t) => {
  const s: Descriptor = { mediaType: OCI_MANIFEST, digest: `sha256:${'1'.repeat(64)}`, size: 10, annotations: { dropped: 'yes' } };
  const a = { ...artifact('x'), annotations: { b: '2', a: '1' } };
  const { bytes, descriptor } = artifactManifest(s, a);
  t.deepEqual(artifactManifest(s, { ...a, annotations: { a: '1', b: '2' } }).bytes, bytes);
  const json = JSON.parse(bytes.toString('utf8'));
  t.is(digestOf(Buffer.from('{}')), OCI_EMPTY_DIGEST);
  t.deepEqual(json.config, { mediaType: OCI_EMPTY, digest: OCI_EMPTY_DIGEST, size: 2, data: 'e30=' });
  t.deepEqual(json.subject, { mediaType: OCI_MANIFEST, digest: s.digest, size: 10 });
  t.deepEqual(json.layers, [{ mediaType: SIG, digest: digestOf(a.bytes), size: a.bytes.length }]);
  t.is(json.mediaType, OCI_MANIFEST);
  t.is(json.schemaVersion, 2);
  t.deepEqual(descriptor, { mediaType: OCI_MANIFEST, digest: digestOf(bytes), size: bytes.length, artifactType: SIG, annotations: { a: '1', b: '2' } });
});

test('distribution 2.8: attached through the tag schema, found again, read back by skopeo', async (t) => {
  const client = new RegistryClient({ registry: t.context.reg.host });
  const repo = 'refs/tag-path';
  const s = await subject(client, repo, 'tag-path');
  const sig = await attach(client, repo, s, artifact('sig'));
  t.is(sig.via, 'tag');
  t.is(await client.getReferrers(repo, s.digest), undefined);
  const index = await client.getManifest(repo, referrersTag(s.digest));
  t.is(index.mediaType, OCI_INDEX);
  t.deepEqual(index.json.manifests, [{ mediaType: OCI_MANIFEST, digest: sig.manifest.digest, size: sig.manifest.size, artifactType: SIG, annotations: { 'org.example.name': 'sig' } }]);
  t.deepEqual(await referrers(client, repo, s.digest), [sig.manifest]);
  const back = await client.getManifest(repo, sig.manifest.digest);
  t.is(back.json.subject?.digest, s.digest);
  t.is(back.json.artifactType, SIG);
  const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${t.context.reg.host}/${repo}@${sig.manifest.digest}`]);
  t.is(digestOf(raw), sig.manifest.digest);

  t.deepEqual(await attach(client, repo, s, artifact('sig')), sig);
  const sbom = await attach(client, repo, s, artifact('sbom', SBOM));
  t.deepEqual((await client.getManifest(repo, referrersTag(s.digest))).json.manifests?.map((d) => d.digest), [sig.manifest.digest, sbom.manifest.digest]);
  t.deepEqual(await referrers(client, repo, s.digest, SBOM), [sbom.manifest]);
  t.true((await client.listTags(repo)).includes(referrersTag(s.digest)));
});

test('tag schema: attaching before the subject exists works; a tag holding no index means no referrers and is replaced', async (t) => {
  const client = new RegistryClient({ registry: t.context.reg.host });
  const repo = 'refs/early';
  const s = await subject(client, repo, 'early', false);
  const early = await attach(client, repo, s, artifact('early'));
  t.is(early.via, 'tag');
  await subject(client, repo, 'early');
  t.deepEqual(digests(await referrers(client, repo, s.digest)), [early.manifest.digest]);

  const other = await subject(client, repo, 'not-an-index');
  const img = buildImage({ seed: 'squatter', arch: 'arm64', layerSizes: [32] });
  await pushTestImage(client, repo, img, referrersTag(other.digest));
  t.deepEqual(await referrers(client, repo, other.digest), []);
  const a = await attach(client, repo, other, artifact('after-squatter'));
  t.deepEqual(digests(await referrers(client, repo, other.digest)), [a.manifest.digest]);
});

test('referrers API (proxy): attached via the API, no fallback tag, listed and filtered by the registry', async (t) => {
  const proxy = await startReferrersProxy({ target: t.context.reg.host });
  t.teardown(() => proxy.stop());
  const client = new RegistryClient({ registry: proxy.host });
  const repo = 'refs/api-path';
  const s = await subject(client, repo, 'api-path');
  const sig = await attach(client, repo, s, artifact('sig'));
  const sbom = await attach(client, repo, s, artifact('sbom', SBOM));
  t.deepEqual([sig.via, sbom.via], ['api', 'api']);
  t.false((await tagsOf(client, repo)).some((tag) => tag.startsWith('sha256-')));
  t.deepEqual(digests(await referrers(client, repo, s.digest)), digests([sig.manifest, sbom.manifest]));
  t.deepEqual(await client.getReferrers(repo, s.digest, SBOM), { manifests: [sbom.manifest], filtered: true });
  t.deepEqual(await referrers(client, repo, s.digest, SBOM), [sbom.manifest]);
  t.deepEqual(await client.getReferrers(repo, `sha256:${'0'.repeat(64)}`), { manifests: [], filtered: false });
  t.true(proxy.referrersServed >= 3);
});

test('one subject, two clients attaching 20 artifacts each at once: none lost', async (t) => {
  const repo = 'refs/concurrent';
  const [one, two] = [0, 1].map(() => new RegistryClient({ registry: t.context.reg.host }));
  const s = await subject(one!, repo, 'concurrent');
  const names = Array.from({ length: 20 }, (_, i) => i);
  const done = await Promise.all([
    ...names.map((i) => attach(one!, repo, s, artifact(`one-${i}`))),
    ...names.map((i) => attach(two!, repo, s, artifact(`two-${i}`))),
  ]);
  t.true(done.every((d) => d.via === 'tag'));
  const listed = await referrers(two!, repo, s.digest);
  t.is(listed.length, 40);
  t.deepEqual(digests(listed), digests(done.map((d) => d.manifest)));
});

/** A writer outside this process: PUTs the index `entries` at the tag straight to the registry. */
async function overwriteIndex(client: RegistryClient, repo: string, tag: string, entries: Descriptor[]): Promise<void> {
  await client.putManifest(repo, tag, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries })), OCI_INDEX);
}

test('a writer outside the queue replaces the index between our PUT and its reply: read again, merged, nothing lost', async (t) => {
  const proxy = await startReferrersProxy({ target: t.context.reg.host, referrersApi: false });
  t.teardown(() => proxy.stop());
  const repo = 'refs/interleaved';
  const direct = new RegistryClient({ registry: t.context.reg.host });
  const viaProxy = new RegistryClient({ registry: proxy.host });
  const s = await subject(direct, repo, 'interleaved');
  const tag = referrersTag(s.digest);
  const first = await attach(direct, repo, s, artifact('first'));
  const stale = (await direct.getManifest(repo, tag)).json.manifests ?? [];
  const rival = await attach(direct, repo, await subject(direct, repo, 'elsewhere'), artifact('rival'));
  let tagPuts = 0;
  proxy.afterManifestPut = async (_name, ref) => {
    if (ref !== tag || tagPuts++ > 0) return;
    await overwriteIndex(direct, repo, tag, [...stale, rival.manifest]);
  };
  const mine = await attach(viaProxy, repo, s, artifact('mine'));
  t.is(mine.via, 'tag');
  t.is(tagPuts, 2, 'the entry lost to the other writer was written again');
  t.deepEqual(digests(await referrers(direct, repo, s.digest)), digests([first.manifest, rival.manifest, mine.manifest]));
});

test('an index that another writer keeps replacing fails with REFERRERS_LOST naming the tag', async (t) => {
  const proxy = await startReferrersProxy({ target: t.context.reg.host, referrersApi: false });
  t.teardown(() => proxy.stop());
  const repo = 'refs/lost';
  const direct = new RegistryClient({ registry: t.context.reg.host });
  const s = await subject(direct, repo, 'lost');
  const tag = referrersTag(s.digest);
  let tagPuts = 0;
  proxy.afterManifestPut = async (_name, ref) => {
    if (ref === tag) { tagPuts++; await overwriteIndex(direct, repo, tag, []); }
  };
  const e = await t.throwsAsync(attach(new RegistryClient({ registry: proxy.host }), repo, s, artifact('doomed')));
  t.true(isEksdError(e, 'REFERRERS_LOST'), String(e));
  t.regex(e?.message ?? '', new RegExp(tag));
  t.is(tagPuts, 5);
});

/** A subject with three referrers in `repo` of the first registry. */
async function withReferrers(client: RegistryClient, repo: string, seed: string): Promise<{ s: Descriptor; attached: Descriptor[] }> {
  const s = await subject(client, repo, seed);
  const attached = [];
  for (const a of [artifact('sig'), artifact('sbom', SBOM), artifact('provenance', 'application/vnd.in-toto+json')]) {
    attached.push((await attach(client, repo, s, a)).manifest);
  }
  return { s, attached };
}

test('copyReferrers between registries, tag schema to tag schema: same artifacts, same digests; once', async (t) => {
  const from = { client: new RegistryClient({ registry: t.context.reg.host }), repo: 'refs/copy-src' };
  const to = { client: new RegistryClient({ registry: t.context.other.host }), repo: 'refs/copy-dst' };
  const { s, attached } = await withReferrers(from.client, from.repo, 'copy-tag');
  await copy({ from: { ...from, ref: s.digest }, to });
  t.is(await copyReferrers(from, to, s.digest), 3);
  t.deepEqual(digests(await referrers(to.client, to.repo, s.digest)), digests(attached));
  t.deepEqual(await referrers(to.client, to.repo, s.digest, SBOM), attached.filter((d) => d.artifactType === SBOM));
  const back = await to.client.getManifest(to.repo, attached[0]!.digest);
  t.is(back.json.subject?.digest, s.digest);
  await to.client.getBlob(to.repo, back.json.layers![0]!.digest);
  t.is(await copyReferrers(from, to, s.digest), 0);
});

test('copyReferrers from the tag schema to a registry with the referrers API: attached there through the API', async (t) => {
  const proxy = await startReferrersProxy({ target: t.context.other.host });
  t.teardown(() => proxy.stop());
  const from = { client: new RegistryClient({ registry: t.context.reg.host }), repo: 'refs/copy-api-src' };
  const to = { client: new RegistryClient({ registry: proxy.host }), repo: 'refs/copy-api-dst' };
  const { s, attached } = await withReferrers(from.client, from.repo, 'copy-api');
  t.is(await copyReferrers(from, to, s.digest), 3);
  // The API lists them in the order the registry keeps (the spec sets none).
  const byDigest = (ds: Descriptor[]) => [...ds].sort((a, b) => a.digest.localeCompare(b.digest));
  t.deepEqual(byDigest(await referrers(to.client, to.repo, s.digest)), byDigest(attached));
  t.false((await tagsOf(to.client, to.repo)).some((tag) => tag.startsWith('sha256-')));
  t.is(await copyReferrers(from, to, s.digest), 0);
});

test('a registry without the referrers API: ten subjects of one repository listed at once ask the API once', async (t) => {
  const recorder = await startRecorder(t.context.reg.host);
  t.teardown(() => recorder.stop());
  const client = new RegistryClient({ registry: recorder.host });
  const repo = 'refs/probe-once';
  const subjects = await Promise.all(Array.from({ length: 10 }, (_, i) => subject(client, repo, `probe-${i}`)));
  const attached = await attach(client, repo, subjects[3]!, artifact('sig-3'));
  recorder.lines.length = 0;
  const listed = await Promise.all(subjects.map((s) => referrers(client, repo, s.digest)));
  t.deepEqual(listed.map((l) => l.length), [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  t.deepEqual(listed[3], [attached.manifest]);
  t.is(recorder.lines.filter((l) => l.includes('/referrers/')).length, 1);
  t.is(recorder.lines.filter((l) => l.includes('/manifests/sha256-')).length, 10);
});
