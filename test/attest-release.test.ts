/**
 * Trust by digest, end to end on the local engine and registry: a release signs every index and platform
 * manifest and attaches an SBOM and provenance to each platform manifest (the tag schema here: distribution
 * 2.8 has no referrers API); `eksd verify` checks them; tampering of each kind fails verify with its own
 * message and keeps the release from being announced; republish copies them; a base update adds only
 * documents for the new digests.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeProject, type TestProject } from './helpers/project.ts';
import { RegistryClient } from '../pipeline/registry/client.ts';
import { attach, referrers, referrersTag } from '../pipeline/registry/referrers.ts';
import { parseRelease } from '../pipeline/release/manifest.ts';
import { manifestPath } from '../pipeline/release/naming.ts';
import type { Release } from '../pipeline/release/types.ts';
import { PREDICATE, signStatement, type Statement } from '../pipeline/attest/statement.ts';
import { generateLocalKey, localKeySigner } from '../pipeline/sign/local-key.ts';
import { makeVerifier } from '../pipeline/sign/make.ts';
import { BUNDLE_MEDIA_TYPE, type SignedBundle } from '../pipeline/sign/port.ts';
import { bundleArtifact } from '../pipeline/stages/attest/stage.ts';
import { PREDICATE_ANNOTATION } from '../pipeline/attest/check.ts';
import { MEDIA, type Descriptor } from '../pipeline/image/media-types.ts';


const run = promisify(execFile);
const client = new RegistryClient({ registry: '127.0.0.1:5000' });
const R1 = 'kubernetes-1-33-eks-1';

interface Subject { repository: string; digest: string; platform: string; image: string }

function releaseOf(p: TestProject, name = R1): Release {
  const number = Number(name.split('-').pop());
  return parseRelease(readFileSync(join(p.root, 'out', 'site', manifestPath('1-33', number)), 'utf8'), name);
}

/** Every index and platform manifest of the release's images. */
async function subjectsOf(release: Release): Promise<Subject[]> {
  const out: Subject[] = [];
  for (const a of release.status.components.flatMap((c) => c.assets).filter((x) => x.type === 'Image')) {
    const repository = a.image!.uri.split('/').slice(1).join('/').split(':')[0]!;
    const index = await client.getManifest(repository, a.image!.imageDigest!);
    out.push({ repository, digest: index.digest, platform: 'index', image: a.name });
    for (const m of (index.json as { manifests: Array<Descriptor> }).manifests) {
      out.push({ repository, digest: m.digest, platform: `${m.platform!.os}/${m.platform!.architecture}`, image: a.name });
    }
  }
  return out;
}

const kindsOf = (entries: Descriptor[]) => entries.map((e) => e.annotations?.[PREDICATE_ANNOTATION]).sort();

/** The referrers index at the subject's tag: read, and written back as given. */
const tagIndex = {
  read: async (s: Subject) => client.getManifest(s.repository, referrersTag(s.digest)),
  write: (s: Subject, manifests: Descriptor[]) => client.putManifest(s.repository, referrersTag(s.digest),
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests })), MEDIA.ociIndex),
  restore: (s: Subject, bytes: Buffer) => client.putManifest(s.repository, referrersTag(s.digest), bytes, MEDIA.ociIndex),
};

async function without(s: Subject, predicate: string): Promise<Buffer> {
  const original = await tagIndex.read(s);
  const kept = (original.json as { manifests: Descriptor[] }).manifests.filter((d) => d.annotations?.[PREDICATE_ANNOTATION] !== predicate);
  await tagIndex.write(s, kept);
  return original.bytes;
}

async function statementOf(p: TestProject, s: Subject, predicate: string): Promise<Statement> {
  const entry = (await referrers(client, s.repository, s.digest, BUNDLE_MEDIA_TYPE)).find((d) => d.annotations?.[PREDICATE_ANNOTATION] === predicate)!;
  const manifest = await client.getManifest(s.repository, entry.digest);
  const layer = (manifest.json as { layers: Descriptor[] }).layers[0]!;
  const verifier = await makeVerifier(p.config().signing!);
  return (await verifier.verify(await client.getBlob(s.repository, layer.digest))).statement as Statement;
}

async function attachBundle(s: Subject, bundle: SignedBundle, predicate: string): Promise<void> {
  await attach(client, s.repository, { mediaType: MEDIA.ociManifest, digest: s.digest, size: 0 }, bundleArtifact(bundle, predicate));
}

async function verifyFails(t: import('ava').ExecutionContext, p: TestProject, expected: RegExp): Promise<void> {
  const r = await p.eksd(['verify', R1]);
  t.is(r.code, 3, r.stdout + r.stderr);
  t.regex(r.stdout, expected);
}

test('a release signs every index and platform manifest and attaches an SBOM and provenance, found by the tag schema; verify checks them; skopeo reads them', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  const r = await p.eksd(['release']);
  t.is(r.code, 0, r.stderr.slice(-3000));
  const subjects = await subjectsOf(releaseOf(p));
  t.true(subjects.length >= 6);
  for (const s of subjects) {
    const tags = await client.listTags(s.repository);
    t.true(tags.includes(referrersTag(s.digest)), `${s.image} ${s.platform}: no ${referrersTag(s.digest)} tag`);
    const entries = await referrers(client, s.repository, s.digest, BUNDLE_MEDIA_TYPE);
    t.deepEqual(kindsOf(entries), s.platform === 'index' ? [PREDICATE.sign] : [PREDICATE.sign, PREDICATE.sbom, PREDICATE.provenance].sort(), `${s.image} ${s.platform}`);
    for (const e of entries) {
      const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://127.0.0.1:5000/${s.repository}@${e.digest}`]);
      const raw = JSON.parse(stdout) as { artifactType: string; subject: Descriptor };
      t.is(raw.artifactType, BUNDLE_MEDIA_TYPE);
      t.is(raw.subject.digest, s.digest);
    }
  }
  const platform = subjects.find((s) => s.platform === 'linux/arm64')!;
  const sbom = await statementOf(p, platform, PREDICATE.sbom);
  t.regex(JSON.stringify(sbom.predicate), new RegExp(`${platform.digest.slice('sha256:'.length)}.*arch=arm64`));
  const provenance = await statementOf(p, platform, PREDICATE.provenance);
  t.is((provenance.predicate as { buildDefinition: { externalParameters: { channel: string } } }).buildDefinition.externalParameters.channel, '1-33');
  const v = await p.eksd(['verify', R1]);
  t.is(v.code, 0, v.stdout + v.stderr);
  t.regex(v.stdout, new RegExp(`${subjects.length * 3 - subjects.filter((s) => s.platform === 'index').length * 2} signatures, SBOMs and provenance statements`));
  const listed = JSON.parse(readFileSync(join(p.root, 'out', 'site', 'kubernetes-1-33', 'releases', '1', 'attestations.json'), 'utf8')) as { images: unknown[] };
  t.is(listed.images.length, subjects.filter((s) => s.platform === 'index').length);
  t.regex(readFileSync(join(p.root, 'out', 'site', 'kubernetes-1-33', 'releases', '1', 'index.md'), 'utf8'), /## Signatures, SBOMs and provenance/);
});

test('tampering fails verify, each with its own message, and a release meeting it is not announced', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  t.is((await p.eksd(['release', '--until', 'release'])).code, 0);
  const subjects = await subjectsOf(releaseOf(p));
  const [target, other] = [subjects.find((s) => s.image === 'kube-apiserver-image' && s.platform === 'linux/amd64')!,
    subjects.find((s) => s.image === 'etcd-image' && s.platform === 'linux/amd64')!];
  const outbox = join(p.root, 'out', 'announcements');
  const ours = localKeySigner(p.config().signing as { privateKey: string; publicKey: string });

  // An attestation removed.
  let original = await without(target, PREDICATE.sbom);
  await verifyFails(t, p, /no SBOM is attached/);
  await tagIndex.restore(target, original);

  // The SBOM replaced by another image's.
  const theirs = await statementOf(p, other, PREDICATE.sbom);
  original = await without(target, PREDICATE.sbom);
  await attachBundle(target, await ours.signStatement(theirs), PREDICATE.sbom);
  await verifyFails(t, p, new RegExp(`SBOM .* is about ${other.digest}, not this image`));
  await tagIndex.restore(target, original);

  // A signature made with another key.
  const otherKey = generateLocalKey(await mkdtemp(join(tmpdir(), 'eksd-other-key-')));
  original = await without(target, PREDICATE.sign);
  await attachBundle(target, await localKeySigner(otherKey).signStatement(signStatement({ name: target.repository, digest: target.digest })), PREDICATE.sign);
  await verifyFails(t, p, /no valid signature: .*does not verify against/);
  await tagIndex.restore(target, original);

  // Provenance whose artifact checksum differs from the Release manifest's: alone, then beside the right one.
  const provenance = await statementOf(p, target, PREDICATE.provenance);
  const deps = (provenance.predicate as { buildDefinition: { resolvedDependencies: Array<{ name?: string; digest: Record<string, string> }> } }).buildDefinition.resolvedDependencies;
  const artifact = deps.find((d) => d.name && d.name !== 'parent' && d.digest.sha256)!;
  artifact.digest.sha256 = 'f'.repeat(64);
  const wrong = await ours.signStatement(provenance);
  original = await without(target, PREDICATE.provenance);
  await attachBundle(target, wrong, PREDICATE.provenance);
  await verifyFails(t, p, new RegExp(`provenance names ${artifact.name} with sha256 f{64}`));
  await tagIndex.restore(target, original);
  await attachBundle(target, wrong, PREDICATE.provenance);
  await verifyFails(t, p, new RegExp(`provenance names ${artifact.name} with sha256 f{64}`));

  // The release run meets it: its attest stage finds every kind there and signed, its verify stops it.
  const stopped = await p.eksd(['release']);
  t.not(stopped.code, 0);
  t.regex(stopped.stderr + stopped.stdout, new RegExp(`provenance names ${artifact.name} with sha256 f{64}`));
  t.deepEqual(readdirSafe(outbox), []);

  // Put right, the release goes on and is announced once.
  await tagIndex.restore(target, original);
  const done = await p.eksd(['release']);
  t.is(done.code, 0, done.stderr.slice(-3000));
  t.deepEqual(readdirSafe(outbox), [`${R1}.json`]);
});

test('republish copies the attestations, and the mirror verifies', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  t.is((await p.eksd(['release'])).code, 0);
  const mirror = `127.0.0.1:5000/${p.ns}-mirror`;
  const r = await p.eksd(['republish', R1, '--to', mirror]);
  t.is(r.code, 0, r.stdout + r.stderr);
  for (const s of await subjectsOf(releaseOf(p))) {
    const repository = s.repository.replace(`${p.ns}/eks-distro`, `${p.ns}-mirror`);
    const entries = await referrers(client, repository, s.digest, BUNDLE_MEDIA_TYPE);
    t.is(entries.length, s.platform === 'index' ? 1 : 3, `${repository} ${s.platform}`);
  }
});

test('a base update attaches documents only for the new digests; reused ones keep theirs', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  t.is((await p.eksd(['release'])).code, 0);
  const before = new Map((await subjectsOf(releaseOf(p))).map((s) => [s.digest, s]));
  await p.seed({ update: true });
  await p.eksd(['watch-base', '--write']);
  const r = await p.eksd(['release']);
  t.is(r.code, 0, r.stderr.slice(-3000));
  const after = await subjectsOf(releaseOf(p, 'kubernetes-1-33-eks-2'));
  t.true(after.some((s) => !before.has(s.digest)), 'the base update changed some digests');
  for (const s of after) {
    const entries = await referrers(client, s.repository, s.digest, BUNDLE_MEDIA_TYPE);
    t.is(entries.length, s.platform === 'index' ? 1 : 3, `${s.image} ${s.platform}: one statement of each kind, never two`);
  }
  t.is((await p.eksd(['verify', 'kubernetes-1-33-eks-2'])).code, 0);
  // Released again with nothing changed: every digest is reused, and so is every statement attached to it.
  const listed = async (subjects: Subject[]) => Promise.all(subjects.map(async (s) => (await referrers(client, s.repository, s.digest, BUNDLE_MEDIA_TYPE)).map((d) => d.digest).sort()));
  const attached = await listed(after);
  t.is((await p.eksd(['release', '--release-unchanged'])).code, 0);
  const third = await subjectsOf(releaseOf(p, 'kubernetes-1-33-eks-3'));
  t.deepEqual(third.map((s) => s.digest), after.map((s) => s.digest), 'the same images');
  t.deepEqual(await listed(third), attached, 'the same statements: none made again');
});

function readdirSafe(dir: string): string[] {
  try { return readdirSync(dir).filter((f) => f.endsWith('.json')); } catch { return []; }
}
