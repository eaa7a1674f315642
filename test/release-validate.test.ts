import test from 'ava';
import { isEksdError } from '../pipeline/errors.ts';
import { buildReleaseChannel } from '../pipeline/release/channel.ts';
import { crdSchema } from '../pipeline/release/crds.ts';
import { API_VERSION, type Release } from '../pipeline/release/types.ts';
import { isRfc3339 } from '../pipeline/release/crd-check.ts';
import { assertValidRelease, ReleaseValidationError, validateRelease, validateReleaseChannel } from '../pipeline/release/validate.ts';

const H64 = 'a'.repeat(64);
const H128 = 'b'.repeat(128);

function release(): Release {
  return {
    apiVersion: API_VERSION,
    kind: 'Release',
    metadata: { name: 'kubernetes-1-33-eks-7', creationTimestamp: null },
    spec: { channel: '1-33', number: 7 },
    status: {
      date: '2025-06-01T12:00:00Z',
      components: [{
        name: 'etcd',
        gitTag: 'v3.5.21',
        assets: [
          {
            name: 'etcd-image', type: 'Image', os: 'linux', arch: ['amd64', 'arm64'], description: 'etcd container image',
            image: { uri: 'public.ecr.aws/eks-distro/etcd-io/etcd:v3.5.21-eks-1-33-7', imageDigest: `sha256:${'c'.repeat(64)}` },
          },
          {
            name: 'etcd-linux-amd64-v3.5.21.tar.gz', type: 'Archive', os: 'linux', arch: ['amd64'], description: 'etcd tarball',
            archive: { uri: 'https://distro.eks.amazonaws.com/kubernetes-1-33/releases/7/artifacts/etcd/v3.5.21/etcd-linux-amd64-v3.5.21.tar.gz', sha256: H64, sha512: H128 },
          },
        ],
      }],
    },
  };
}

const paths = (r: unknown): string[] => validateRelease(r).map((i) => i.path);

test('the bundled CRD schemas are the Release and ReleaseChannel openAPIV3Schemas', (t) => {
  const rel = crdSchema('Release') as { properties: Record<string, unknown> };
  t.deepEqual(Object.keys(rel.properties).sort(), ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  t.truthy(crdSchema('ReleaseChannel'));
  t.deepEqual(validateRelease(release()), []);
});

test('image without digest is named by path', (t) => {
  const r = release();
  delete r.status.components[0]!.assets[0]!.image!.imageDigest;
  t.deepEqual(paths(r), ['status.components[0].assets[0].image.imageDigest']);
  r.status.components[0]!.assets[0]!.image!.imageDigest = 'sha256:ABC';
  t.deepEqual(paths(r), ['status.components[0].assets[0].image.imageDigest']);
});

test('image uri by digest is rejected', (t) => {
  const r = release();
  r.status.components[0]!.assets[0]!.image!.uri = `public.ecr.aws/eks-distro/etcd-io/etcd@sha256:${'c'.repeat(64)}`;
  const issues = validateRelease(r);
  t.deepEqual(issues.map((i) => i.path), ['status.components[0].assets[0].image.uri']);
  t.regex(issues[0]!.message, /tag form/);
  r.status.components[0]!.assets[0]!.image!.uri = 'public.ecr.aws/eks-distro/etcd-io/etcd:v3.5.21-eks-1-33-6';
  t.regex(validateRelease(r)[0]!.message, /must be <gitTag>-eks-1-33-7/);
});

test('archive missing sha512 is named by path', (t) => {
  const r = release();
  delete (r.status.components[0]!.assets[1]!.archive as { sha512?: string }).sha512;
  t.deepEqual(paths(r), ['status.components[0].assets[1].archive.sha512']);
});

test('bad os enum and number 0 come from the CRD schema', (t) => {
  const r = release();
  (r.status.components[0]!.assets[1] as { os: string }).os = 'macos';
  r.spec.number = 0;
  const issues = validateRelease(r);
  t.true(issues.some((i) => i.path === 'spec.number' && /must be >= 1/.test(i.message)));
  t.true(issues.some((i) => i.path === 'status.components[0].assets[1].os' && /"linux", "darwin", "windows"/.test(i.message)));
});

test('every violation is listed in one error', (t) => {
  const r = release();
  delete r.status.components[0]!.assets[0]!.image!.imageDigest;
  delete (r.status.components[0]!.assets[1]!.archive as { sha512?: string }).sha512;
  r.status.date = '2025-02-30T00:00:00Z';
  (r.status.components[0]!.assets[0] as { type: string }).type = 'Chart';
  const e = t.throws(() => assertValidRelease(r));
  t.true(e instanceof ReleaseValidationError);
  t.true(isEksdError(e, 'RELEASE_INVALID'));
  const list = (e as ReleaseValidationError).issues.map((i) => i.path);
  t.deepEqual(list.sort(), ['status.components[0].assets[0].type', 'status.components[0].assets[1].archive.sha512', 'status.date']);
  for (const p of list) t.true(e!.message.includes(p));
  t.truthy((e as ReleaseValidationError).hint);
});

test('sorting, uniqueness and the name are part of the contract; strict can be turned off', (t) => {
  const r = release();
  r.status.components[0]!.assets.reverse();
  r.metadata.name = 'kubernetes-1-33-eks-8';
  t.deepEqual(paths(r).sort(), ['metadata.name', 'status.components[0].assets[1].name']);
  t.deepEqual(validateRelease(r, { strict: false }), []);
});

test('RFC3339 date-time check', (t) => {
  for (const ok of ['2025-06-01T12:00:00Z', '2024-02-29T23:59:60.123Z', '2025-06-01T12:00:00+02:00']) t.true(isRfc3339(ok), ok);
  for (const bad of ['2025-06-01', '2025-06-01 12:00:00Z', '2023-02-29T00:00:00Z', '2025-06-01T24:00:00Z', 'yesterday']) t.false(isRfc3339(bad), bad);
});

test('ReleaseChannel validation', (t) => {
  const rc = buildReleaseChannel({ channel: '1-33', latestRelease: 4, snsTopicArn: 'arn:aws:sns:us-east-1:123456789012:eks-distro-updates', active: true });
  t.deepEqual(validateReleaseChannel(rc), []);
  const bad = { ...rc, status: { active: 'yes', latestRelease: 0 } };
  t.deepEqual(validateReleaseChannel(bad).map((i) => i.path).sort(), ['status.active', 'status.latestRelease']);
  t.true(isEksdError(t.throws(() => buildReleaseChannel({ channel: '1-33', latestRelease: 0, active: true })), 'RELEASE_INPUT'));
});
