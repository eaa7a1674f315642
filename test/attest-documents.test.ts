/**
 * The attestation documents: the CycloneDX SBOM (valid against the CycloneDX 1.6 schema, complete,
 * byte-for-byte deterministic), SLSA provenance (valid in-toto and SLSA, the same outside runDetails),
 * the CI context and the cosign signature statement.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compileSchema } from '../pipeline/util/schema.ts';
import { isEksdError } from '../pipeline/errors.ts';
import { PREDICATE, IN_TOTO_STATEMENT, signStatement, statement, subjectDigest, type Statement } from '../pipeline/attest/statement.ts';
import { makeSbom, LAYER_PROPERTY, type SbomInput } from '../pipeline/attest/sbom.ts';
import { genericPurl, ociPurl } from '../pipeline/attest/purl.ts';
import { BUILD_TYPE, makeProvenance, runDetailsFrom, sourceFrom, type ProvenanceInput } from '../pipeline/attest/provenance.ts';
import { cyclonedx16Validator } from './helpers/cyclonedx-validator.ts';
import { prng, randomSbomInput, shuffled } from './helpers/attest-inputs.ts';

const schema = (name: string) => compileSchema(JSON.parse(readFileSync(new URL(`../schema/${name}.schema.json`, import.meta.url), 'utf8')) as object);
const inToto = schema('in-toto-statement-v1');
const slsa = schema('slsa-provenance-v1');
const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const sha512 = (s: string) => createHash('sha512').update(s).digest('hex');

const hex = (c: string) => c.repeat(64);
const realistic: SbomInput = {
  image: 'kube-apiserver',
  repository: '127.0.0.1:5000/kubernetes/kube-apiserver',
  digest: `sha256:${hex('a')}`,
  platform: 'linux/arm64',
  version: 'v1.33.3',
  parent: { reference: `127.0.0.1:5000/eks-distro-base/eks-distro-minimal-base:2025-08-01@sha256:${hex('b')}`, digest: `sha256:${hex('b')}` },
  artifacts: [
    { name: 'kube-apiserver', version: 'v1.33.3', uri: 'http://127.0.0.1:8080/kubernetes/v1.33.3/bin/linux/arm64/kube-apiserver', sha256: sha256('k'), sha512: sha512('k'), license: 'Apache-2.0' },
    { name: 'kubernetes-src.tar.gz', version: 'v1.33.3', uri: 'http://127.0.0.1:8080/kubernetes/v1.33.3/kubernetes-src.tar.gz', sha256: sha256('s'), sha512: sha512('s') },
  ],
  layers: [{ digest: `sha256:${hex('c')}`, files: [{ path: 'usr/local/bin/kube-apiserver', sha256: sha256('k') }, { path: 'etc/passwd', sha256: sha256('p') }] }],
};

interface BomJson {
  serialNumber: string;
  metadata: { timestamp?: string; component: { type: string; name: string; version: string; purl: string; 'bom-ref': string } };
  components: { type: string; name: string; version?: string; purl?: string; 'bom-ref': string; hashes?: { alg: string; content: string }[]; licenses?: unknown[]; properties?: { name: string; value: string }[] }[];
  dependencies: { ref: string; dependsOn?: string[] }[];
}

test('the SBOM is valid CycloneDX 1.6 and lists the image by digest and arch, the artifacts with both hashes, the parent and the layer files', async (t) => {
  const { check, by } = await cyclonedx16Validator();
  t.log(`validated with ${by}`);
  const bom = makeSbom(realistic) as BomJson;
  t.is(await check(JSON.stringify(bom)), null);

  const image = bom.metadata.component;
  t.like(image, { type: 'container', name: 'kube-apiserver', version: 'v1.33.3' });
  t.is(image.purl, `pkg:oci/kube-apiserver@sha256%3A${hex('a')}?arch=arm64&repository_url=127.0.0.1%3A5000%2Fkubernetes%2Fkube-apiserver`);
  t.is(image.purl, ociPurl(realistic.repository, realistic.digest, realistic.platform));
  t.is(bom.metadata.timestamp, undefined);
  t.regex(bom.serialNumber, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  for (const a of realistic.artifacts) {
    const c = bom.components.find((x) => x.purl === genericPurl(a.name, a.version, a.uri));
    t.truthy(c, a.name);
    t.deepEqual(c!.hashes, [{ alg: 'SHA-256', content: a.sha256 }, { alg: 'SHA-512', content: a.sha512 }]);
    t.true(c!.purl!.startsWith(`pkg:generic/${a.name}@${a.version}?download_url=${encodeURIComponent(a.uri)}`));
  }
  t.is(bom.components.find((c) => c.name === 'kubernetes-src.tar.gz')!.type, 'file');
  t.is(bom.components.find((c) => c.name === 'kube-apiserver')!.type, 'application');
  t.deepEqual(bom.components.find((c) => c.name === 'kube-apiserver')!.licenses, [{ license: { id: 'Apache-2.0' } }]);

  const parent = bom.components.find((c) => c.type === 'container')!;
  t.is(parent.purl, `pkg:oci/eks-distro-minimal-base@sha256%3A${hex('b')}?arch=arm64&repository_url=127.0.0.1%3A5000%2Feks-distro-base%2Feks-distro-minimal-base`);
  t.true(bom.dependencies.find((d) => d.ref === image['bom-ref'])!.dependsOn!.includes(parent['bom-ref']));

  const files = bom.components.filter((c) => c.type === 'file' && c.properties?.some((p) => p.name === LAYER_PROPERTY && p.value === `sha256:${hex('c')}`));
  t.deepEqual(files.map((f) => [f.name, f.hashes]).sort(), [
    ['etc/passwd', [{ alg: 'SHA-256', content: sha256('p') }]],
    ['usr/local/bin/kube-apiserver', [{ alg: 'SHA-256', content: sha256('k') }]],
  ]);
});

test('the CycloneDX check fails a broken SBOM', async (t) => {
  const { check } = await cyclonedx16Validator();
  const bom = makeSbom(realistic) as BomJson;
  const badHash = structuredClone(bom);
  badHash.components[0]!.hashes![0]!.content = 'not-hex';
  t.not(await check(JSON.stringify(badHash)), null);
  const badType = structuredClone(bom);
  badType.metadata.component.type = 'image';
  t.not(await check(JSON.stringify(badType)), null);
  const badSerial = { ...structuredClone(bom), serialNumber: 'not-a-urn' };
  t.not(await check(JSON.stringify(badSerial)), null);
});

test('50 generated SBOM inputs: each valid, the same bytes twice and in any input order, a serial number per image', async (t) => {
  const { check } = await cyclonedx16Validator();
  const r = prng(20);
  const serials = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const input = randomSbomInput(r);
    const bytes = JSON.stringify(makeSbom(input));
    t.is(await check(bytes), null, `input ${i}`);
    t.is(JSON.stringify(makeSbom(structuredClone(input))), bytes, `input ${i} again`);
    const reordered = { ...input, artifacts: shuffled(r, input.artifacts), layers: shuffled(r, input.layers.map((l) => ({ ...l, files: shuffled(r, l.files) }))) };
    t.is(JSON.stringify(makeSbom(reordered)), bytes, `input ${i} reordered`);
    const bom = JSON.parse(bytes) as BomJson;
    t.false(bytes.includes('"timestamp"'));
    t.is(bom.components.filter((c) => c.purl?.startsWith('pkg:generic/')).length, new Set(input.artifacts.map((a) => genericPurl(a.name, a.version, a.uri))).size);
    serials.add(bom.serialNumber);
  }
  t.is(serials.size, 50);
});

function provenanceInput(over: Partial<ProvenanceInput> = {}): ProvenanceInput {
  return {
    subject: { name: realistic.repository, digest: realistic.digest },
    channel: '1-33',
    release: 31,
    planId: 'plan-7f3a',
    platform: 'linux/arm64',
    source: { repository: 'https://github.com/o/r', ref: 'refs/heads/main', commit: '0123456789abcdef0123456789abcdef01234567' },
    catalog: { uri: 'images/channels.yaml', digest: `sha256:${hex('d')}` },
    build: { path: 'assemble', key: hex('e'), engine: 'v0.12.5' },
    parent: { uri: '127.0.0.1:5000/eks-distro-base/eks-distro-minimal-base', digest: `sha256:${hex('b')}` },
    artifacts: realistic.artifacts.map(({ uri, sha256, sha512 }) => ({ uri, sha256, sha512 })),
    run: { builderId: 'eksd://builder-1', startedOn: '2025-08-01T10:00:00Z', finishedOn: '2025-08-01T10:05:00.125Z' },
    ...over,
  };
}

type Provenance = Statement & { predicate: { buildDefinition: { buildType: string; externalParameters: Record<string, unknown>; internalParameters: Record<string, unknown>; resolvedDependencies: { uri: string; digest: Record<string, string> }[] }; runDetails: unknown } };

test('provenance is an in-toto v1 statement and SLSA v1 provenance with the release inputs, dependencies sorted by URI', (t) => {
  const p = makeProvenance(provenanceInput()) as Provenance;
  t.deepEqual(inToto(p), []);
  t.deepEqual(slsa(p), []);
  t.is(p._type, IN_TOTO_STATEMENT);
  t.is(p.predicateType, PREDICATE.provenance);
  t.is(subjectDigest(p), realistic.digest);
  const def = p.predicate.buildDefinition;
  t.is(def.buildType, BUILD_TYPE);
  t.deepEqual(def.externalParameters, {
    channel: '1-33', release: 31, planId: 'plan-7f3a', platform: 'linux/arm64',
    source: { repository: 'https://github.com/o/r', ref: 'refs/heads/main' },
    catalog: { uri: 'images/channels.yaml', digest: { sha256: hex('d') } },
  });
  t.deepEqual(def.internalParameters, { buildPath: 'assemble', buildKey: hex('e'), engine: 'v0.12.5' });
  const uris = def.resolvedDependencies.map((d) => d.uri);
  t.deepEqual(uris, [...uris].sort());
  t.deepEqual(def.resolvedDependencies.find((d) => d.uri.startsWith('git+')), { uri: 'git+https://github.com/o/r@refs/heads/main', digest: { gitCommit: '0123456789abcdef0123456789abcdef01234567' } });
  t.deepEqual(def.resolvedDependencies.find((d) => d.uri === provenanceInput().parent!.uri)!.digest, { sha256: hex('b') });
  for (const a of realistic.artifacts) t.deepEqual(def.resolvedDependencies.find((d) => d.uri === a.uri)!.digest, { sha256: a.sha256, sha512: a.sha512 });
  t.deepEqual(p.predicate.runDetails, { builder: { id: 'eksd://builder-1' }, metadata: { startedOn: '2025-08-01T10:00:00Z', finishedOn: '2025-08-01T10:05:00.125Z' } });
  const bare = makeProvenance(provenanceInput({ planId: undefined, parent: undefined, source: { repository: 'local', ref: 'unknown' }, build: { path: 'buildkit', key: hex('e') } })) as Provenance;
  t.deepEqual(slsa(bare), []);
  t.false('planId' in bare.predicate.buildDefinition.externalParameters);
  t.false('engine' in bare.predicate.buildDefinition.internalParameters);
  t.deepEqual(bare.predicate.buildDefinition.resolvedDependencies.map((d) => d.uri), realistic.artifacts.map((a) => a.uri).sort());
});

test('broken provenance fails the schemas', (t) => {
  const good = makeProvenance(provenanceInput()) as Provenance;
  const broken = (edit: (p: Provenance) => void) => { const p = structuredClone(good); edit(p); return p; };
  const noBuildType = broken((p) => { delete (p.predicate.buildDefinition as Partial<Provenance['predicate']['buildDefinition']>).buildType; });
  t.not(slsa(noBuildType).length, 0);
  const noExternal = broken((p) => { delete (p.predicate.buildDefinition as Partial<Provenance['predicate']['buildDefinition']>).externalParameters; });
  t.not(slsa(noExternal).length, 0);
  t.not(slsa(broken((p) => { (p.predicate.runDetails as { builder: object }).builder = {}; })).length, 0);
  t.not(slsa(broken((p) => { (p.predicate.runDetails as { metadata: { startedOn: string } }).metadata.startedOn = 'Aug 1 2025 10:00'; })).length, 0);
  t.not(slsa(broken((p) => { p.predicate.buildDefinition.resolvedDependencies.push({ name: 'nothing' } as never); })).length, 0);
  t.not(slsa(broken((p) => { p.predicate.buildDefinition.resolvedDependencies[0]!.digest = { sha256: 'XYZ' }; })).length, 0);
  t.not(slsa(broken((p) => { p.predicateType = 'https://slsa.dev/provenance/v0.2'; })).length, 0);
  for (const check of [inToto, slsa]) {
    t.not(check(broken((p) => { p._type = 'https://in-toto.io/Statement/v0.1'; })).length, 0);
    t.not(check(broken((p) => { p.subject = []; })).length, 0);
    t.not(check(broken((p) => { p.subject = [{ name: 'x', digest: {} }]; })).length, 0);
    t.not(check(broken((p) => { delete (p as Partial<Statement>).subject; })).length, 0);
  }
  t.not(inToto(broken((p) => { p.predicateType = 'not a uri'; })).length, 0);
});

test('provenance is the same outside runDetails for other run details and any input order', (t) => {
  const r = prng(7);
  const one = makeProvenance(provenanceInput()) as Provenance;
  const other = makeProvenance(provenanceInput({
    artifacts: shuffled(r, provenanceInput().artifacts),
    run: { builderId: 'https://github.com/o/r/.github/workflows/release.yml@refs/heads/main', invocationId: 'https://github.com/o/r/actions/runs/9/attempts/2', startedOn: '2026-01-01T00:00:00Z', finishedOn: '2026-01-01T00:00:01Z' },
  })) as Provenance;
  t.notDeepEqual(one.predicate.runDetails, other.predicate.runDetails);
  const outside = (p: Provenance) => JSON.stringify({ ...p, predicate: { ...p.predicate, runDetails: undefined } });
  t.is(outside(one), outside(other));
  t.deepEqual(slsa(other), []);
});

test('runDetailsFrom and sourceFrom read GitHub Actions, CodeBuild and a plain host', (t) => {
  const times = { startedOn: '2025-08-01T10:00:00Z', finishedOn: '2025-08-01T10:05:00Z' };
  const github = {
    GITHUB_ACTIONS: 'true', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'o/r', GITHUB_REF: 'refs/heads/main', GITHUB_SHA: 'a'.repeat(40),
    GITHUB_WORKFLOW_REF: 'o/r/.github/workflows/release.yml@refs/heads/main', GITHUB_RUN_ID: '123', GITHUB_RUN_ATTEMPT: '2',
  };
  t.deepEqual(runDetailsFrom(github, times, 'host-1'), {
    builderId: 'https://github.com/o/r/.github/workflows/release.yml@refs/heads/main',
    invocationId: 'https://github.com/o/r/actions/runs/123/attempts/2',
    ...times,
  });
  t.deepEqual(sourceFrom(github), { repository: 'https://github.com/o/r', ref: 'refs/heads/main', commit: 'a'.repeat(40) });
  t.deepEqual(sourceFrom(github, 'b'.repeat(40)).commit, 'b'.repeat(40));

  const arn = 'arn:aws:codebuild:us-west-2:123456789012:build/eksd-release:0b1c2d3e-aaaa-bbbb-cccc-0123456789ab';
  const codebuild = { CODEBUILD_BUILD_ARN: arn, CODEBUILD_SOURCE_REPO_URL: 'https://github.com/o/r.git', CODEBUILD_SOURCE_VERSION: 'pr/12', CODEBUILD_WEBHOOK_HEAD_REF: 'refs/heads/feature', CODEBUILD_RESOLVED_SOURCE_VERSION: 'c'.repeat(40) };
  t.deepEqual(runDetailsFrom(codebuild, times, 'host-1'), { builderId: 'arn:aws:codebuild:us-west-2:123456789012:project/eksd-release', invocationId: arn, ...times });
  t.deepEqual(sourceFrom(codebuild), { repository: 'https://github.com/o/r.git', ref: 'refs/heads/feature', commit: 'c'.repeat(40) });
  t.is(sourceFrom({ ...codebuild, CODEBUILD_WEBHOOK_HEAD_REF: undefined }).ref, 'pr/12');
  const badArn = t.throws(() => runDetailsFrom({ CODEBUILD_BUILD_ARN: 'arn:aws:s3:::bucket' }, times, 'h'));
  t.true(isEksdError(badArn, 'ATTEST_CI_CONTEXT'));

  t.deepEqual(runDetailsFrom({}, times, 'host-1'), { builderId: 'eksd://host-1', ...times });
  t.deepEqual(sourceFrom({}), { repository: 'local', ref: 'unknown' });
  t.deepEqual(sourceFrom({}, 'd'.repeat(40)), { repository: 'local', ref: 'unknown', commit: 'd'.repeat(40) });
  for (const env of [github, codebuild, {}]) {
    const p = makeProvenance(provenanceInput({ run: runDetailsFrom(env, times, 'host-1'), source: sourceFrom(env) }));
    t.deepEqual(slsa(p), []);
  }
});

test('the signature statement has the shape cosign 3 signs; statements refuse a malformed digest', (t) => {
  const s = signStatement({ name: realistic.repository, digest: realistic.digest });
  t.deepEqual(s, { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: realistic.repository, digest: { sha256: hex('a') } }], predicateType: 'https://sigstore.dev/cosign/sign/v1', predicate: {} });
  t.deepEqual(inToto(s), []);
  t.is(subjectDigest(s), realistic.digest);
  t.is(subjectDigest({ ...s, subject: [] }), undefined);
  t.is(subjectDigest(JSON.parse('{"subject":"x"}') as Statement), undefined);
  t.is(statement({ name: 'x', digest: `sha256:${hex('f')}` }, PREDICATE.sbom, makeSbom(realistic)).predicateType, 'https://cyclonedx.org/bom');
  for (const digest of ['sha256:abc', hex('a'), `sha256:${hex('A')}`, `md5:${'a'.repeat(32)}`]) {
    t.true(isEksdError(t.throws(() => signStatement({ name: 'x', digest })), 'ATTEST_INPUT'), digest);
  }
});
