/**
 * Attestations on the production paths, end to end: a registry with the referrers API (a proxy in front of
 * the local registry serving it as the distribution spec 1.1 says: what ECR Public does) gets them there and
 * no fallback tag; a release signed with AWS KMS (a stand-in holding a real P-256 key, behind the SDK's
 * endpoint) verifies with the key KMS gives.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { makeProject, LOCAL_REGISTRY, type TestProject } from './helpers/project.ts';
import { startReferrersProxy } from './helpers/referrers-proxy.ts';
import { FakeKms } from './helpers/fake-kms.ts';
import { RegistryClient } from '../pipeline/registry/client.ts';
import { referrers } from '../pipeline/registry/referrers.ts';
import { BUNDLE_MEDIA_TYPE } from '../pipeline/sign/port.ts';
import { parseRelease } from '../pipeline/release/manifest.ts';
import { manifestPath } from '../pipeline/release/naming.ts';
import type { Descriptor } from '../pipeline/image/media-types.ts';

const R1 = 'kubernetes-1-33-eks-1';
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'AKIDKMSSTANDIN', AWS_SECRET_ACCESS_KEY: 'standin-secret' };

function configure(p: TestProject, extra: Record<string, unknown>): void {
  const file = parse(readFileSync(p.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(p.configFile, stringify({ ...file, ...extra }));
}

/** Repository and digest of every index and platform manifest the release lists. */
async function subjects(p: TestProject, client: RegistryClient): Promise<Array<{ repository: string; digest: string; index: boolean }>> {
  const release = parseRelease(readFileSync(join(p.root, 'out', 'site', manifestPath('1-33', 1)), 'utf8'), R1);
  const out: Array<{ repository: string; digest: string; index: boolean }> = [];
  for (const a of release.status.components.flatMap((c) => c.assets).filter((x) => x.type === 'Image')) {
    const repository = a.image!.uri.split('/').slice(1).join('/').split(':')[0]!;
    out.push({ repository, digest: a.image!.imageDigest!, index: true });
    const index = await client.getManifest(repository, a.image!.imageDigest!);
    for (const m of (index.json as { manifests: Descriptor[] }).manifests) out.push({ repository, digest: m.digest, index: false });
  }
  return out;
}

test('a registry with the referrers API gets every attestation there, and no fallback tag', async (t) => {
  const proxy = await startReferrersProxy({ target: LOCAL_REGISTRY });
  t.teardown(() => proxy.stop());
  const p = await makeProject({ catalog: 'mini', registry: proxy.host });
  t.teardown(() => p.cleanup());
  await p.seed();
  const r = await p.eksd(['release']);
  t.is(r.code, 0, r.stderr.slice(-3000));
  const client = new RegistryClient({ registry: proxy.host });
  for (const s of await subjects(p, client)) {
    const api = await client.getReferrers(s.repository, s.digest, BUNDLE_MEDIA_TYPE);
    t.is(api?.manifests.length, s.index ? 1 : 3, `${s.repository}@${s.digest}`);
    t.deepEqual((await client.listTags(s.repository)).filter((tag) => tag.startsWith('sha256-')), [], `${s.repository}: no referrers tag`);
  }
  t.true(proxy.referrersServed > 0);
  const v = await p.eksd(['verify', R1]);
  t.is(v.code, 0, v.stdout + v.stderr);
});

test('a release signed with AWS KMS verifies with the key KMS gives; a KMS that does not know the key stops it before anything is attached', async (t) => {
  const kms = new FakeKms();
  await kms.start();
  t.teardown(() => kms.stop());
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  configure(p, { signing: { kind: 'kms', keyId: 'alias/no-such-key', endpoint: kms.endpoint } });
  const refused = await p.eksd(['release'], { env: AWS_ENV });
  t.not(refused.code, 0);
  t.regex(refused.stderr, /SIGN_FAILED[\s\S]*alias\/no-such-key/);
  t.notRegex(refused.stderr, /==> build/, 'stopped before the first stage: nothing built, pushed or attached');
  const keyId = kms.createKey();
  configure(p, { signing: { kind: 'kms', keyId, endpoint: kms.endpoint } });
  const r = await p.eksd(['release'], { env: AWS_ENV });
  t.is(r.code, 0, r.stderr.slice(-3000));
  const client = new RegistryClient({ registry: LOCAL_REGISTRY });
  const all = await subjects(p, client);
  for (const s of all) t.is((await referrers(client, s.repository, s.digest, BUNDLE_MEDIA_TYPE)).length, s.index ? 1 : 3);
  t.true(kms.count('TrentService.Sign') >= all.filter((s) => s.index).length + all.filter((s) => !s.index).length * 3);
  const v = await p.eksd(['verify', R1], { env: AWS_ENV });
  t.is(v.code, 0, v.stdout + v.stderr);
  t.regex(v.stdout, new RegExp(`KMS key ${keyId}`));
});
