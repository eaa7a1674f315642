import anyTest, { type TestFn } from 'ava';
import { ECRPUBLICClient } from '@aws-sdk/client-ecr-public';
import {
  createEcrPublicClient, ecrArchitectures, ecrPublicCredentials, ensureRepository, type CatalogData,
} from '../pipeline/aws/ecr-public.ts';
import { isEksdError, type EksdError } from '../pipeline/errors.ts';
import { RegistryClient } from '../pipeline/registry/index.ts';
import { startFakeEcrPublic, TEST_AWS_CREDENTIALS, type FakeEcrPublic } from './helpers/fake-ecr-public.ts';
import { buildIndex, pushTestImage, startRegistry, type RunningRegistry } from './helpers/registry.ts';
import { startTokenServer, type TokenServer } from './helpers/token-server.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const FIRST_PASSWORD = 'ecr-pass-first-4Kd9q';
const SECOND_PASSWORD = 'ecr-pass-second-Vb72m';

const test = anyTest as TestFn<{ ecr: FakeEcrPublic; ts: TokenServer; reg: RunningRegistry }>;

test.before(async (t) => {
  const ecr = await startFakeEcrPublic({ password: FIRST_PASSWORD });
  const ts = await startTokenServer({ username: 'AWS', service: 'public.ecr.aws' });
  ts.setPassword(ecr.password);
  const reg = await startRegistry({ auth: ts.registryAuth });
  t.context = { ecr, ts, reg };
});

test.after.always(async (t) => {
  await t.context.reg?.stop();
  await Promise.all([t.context.ts?.stop(), t.context.ecr?.stop()]);
});

const sdk = (endpoint: string): ECRPUBLICClient => createEcrPublicClient({ endpoint, credentials: TEST_AWS_CREDENTIALS, maxAttempts: 1 });
const count = (ecr: FakeEcrPublic, op: string): number => ecr.calls.filter((c) => c.operation === op).length;
const catalog: CatalogData = { description: 'etcd for EKS Distro', architectures: ecrArchitectures(['amd64', 'arm64']), operatingSystems: ['Linux'], aboutText: '# etcd' };
const lines: string[] = [];
const errors: string[] = [];
const remember = (e: unknown): EksdError => { errors.push((e as EksdError).describe(), String((e as Error).stack)); return e as EksdError; };

test.serial('token source: GetAuthorizationToken in us-east-1, decoded, cached until 5 minutes before expiry', async (t) => {
  const { ecr } = t.context;
  let now = Date.now();
  const source = ecrPublicCredentials({ client: sdk(ecr.endpoint), now: () => now });
  const before = count(ecr, 'GetAuthorizationToken');
  t.deepEqual(await source.get(), { username: 'AWS', password: FIRST_PASSWORD });
  t.deepEqual(await source.get(), { username: 'AWS', password: FIRST_PASSWORD });
  t.is(count(ecr, 'GetAuthorizationToken') - before, 1);
  t.regex(ecr.calls.at(-1)?.authorization ?? '', /Credential=AKIDLOCAL\/\d+\/us-east-1\/ecr-public\/aws4_request/);
  now += 12 * 3600 * 1000 - 4 * 60 * 1000;
  await source.get();
  t.is(count(ecr, 'GetAuthorizationToken') - before, 2, 'refetched inside the 5-minute margin');
});

test.serial('registry push with the ECR Public token; a rotated password is refreshed once after a 401', async (t) => {
  const { ecr, ts, reg } = t.context;
  const c = new RegistryClient({ registry: reg.host, credentials: ecrPublicCredentials({ endpoint: ecr.endpoint, credentials: TEST_AWS_CREDENTIALS }), log: (l) => lines.push(l) });
  const idx = buildIndex({ seed: 'ecr', layerSizes: [2000] });
  await pushTestImage(c, 'eks-distro/etcd', idx, 'v3.5.21');
  const before = count(ecr, 'GetAuthorizationToken');
  ecr.setPassword(SECOND_PASSWORD);
  ts.setPassword(SECOND_PASSWORD);
  t.deepEqual((await c.getManifest('eks-distro/other', 'v1').catch((e: unknown) => remember(e)) as EksdError).code, 'REGISTRY_MANIFEST_UNKNOWN');
  t.is(count(ecr, 'GetAuthorizationToken') - before, 1, 'one refresh');
  t.deepEqual(ts.requests.slice(-2).map((r) => r.ok), [false, true]);
  ts.setPassword('something-else-entirely');
  const e = remember(await t.throwsAsync(c.getManifest('eks-distro/third', 'v1')));
  t.true(isEksdError(e, 'REGISTRY_UNAUTHORIZED'));
  t.regex(e.message, new RegExp(`${reg.host}/eks-distro/third:v1`));
  t.is(count(ecr, 'GetAuthorizationToken') - before, 2, 'refreshed once more, then gave up');
  ts.setPassword(ecr.password);
});

test.serial('ensureRepository creates a missing repository with its catalog data', async (t) => {
  const { ecr } = t.context;
  const r = await ensureRepository({ client: sdk(ecr.endpoint), repositoryName: 'eks-distro/etcd-io/etcd', catalogData: catalog });
  t.true(r.created);
  t.is(r.repositoryUri, 'public.ecr.aws/fake/eks-distro/etcd-io/etcd');
  t.deepEqual(ecr.repositories.get('eks-distro/etcd-io/etcd')?.catalogData, { ...catalog, architectures: ['x86-64', 'ARM 64'] });
});

test.serial('ensureRepository leaves an existing repository as it is', async (t) => {
  const { ecr } = t.context;
  ecr.repositories.set('eks-distro/coredns', { repositoryName: 'eks-distro/coredns', catalogData: { description: 'hand-written' }, createdAt: 1 });
  const calls = ecr.calls.length;
  const r = await ensureRepository({ endpoint: ecr.endpoint, credentials: TEST_AWS_CREDENTIALS, repositoryName: 'eks-distro/coredns', catalogData: catalog });
  t.false(r.created);
  t.deepEqual(ecr.calls.slice(calls).map((c) => c.operation), ['DescribeRepositories']);
  t.deepEqual(ecr.repositories.get('eks-distro/coredns')?.catalogData, { description: 'hand-written' });
  ecr.failNext('DescribeRepositories', 'RepositoryNotFoundException');
  t.false((await ensureRepository({ client: sdk(ecr.endpoint), repositoryName: 'eks-distro/coredns', catalogData: catalog })).created, 'lost a create race');
  t.deepEqual(ecr.repositories.get('eks-distro/coredns')?.catalogData, { description: 'hand-written' });
});

test.serial('SDK errors map to ECR_* codes naming the repository; bad input fails before any call', async (t) => {
  const { ecr } = t.context;
  ecr.failNext('DescribeRepositories', 'AccessDeniedException');
  const e = remember(await t.throwsAsync(ensureRepository({ client: sdk(ecr.endpoint), repositoryName: 'eks-distro/pause', catalogData: catalog })));
  t.true(isEksdError(e, 'ECR_ACCESS_DENIED'));
  t.regex(e.message, /public\.ecr\.aws\/eks-distro\/pause/);
  ecr.failNext('CreateRepository', 'LimitExceededException');
  const e2 = remember(await t.throwsAsync(ensureRepository({ client: sdk(ecr.endpoint), repositoryName: 'eks-distro/pause', catalogData: catalog })));
  t.true(isEksdError(e2, 'ECR_LIMIT_EXCEEDED'));
  ecr.failNext('GetAuthorizationToken', 'UnsupportedCommandException');
  const e3 = remember(await t.throwsAsync(ecrPublicCredentials({ client: sdk(ecr.endpoint) }).get()));
  t.true(isEksdError(e3, 'ECR_UNSUPPORTED_COMMAND'));
  t.regex(e3.hint ?? '', /us-east-1/);
  const calls = ecr.calls.length;
  const e4 = remember(await t.throwsAsync(ensureRepository({ client: sdk(ecr.endpoint), repositoryName: 'eks-distro/x', catalogData: { ...catalog, architectures: ['amd64'] } })));
  t.true(isEksdError(e4, 'ECR_INVALID_PARAMETER'));
  t.regex(e4.message, /architecture "amd64"/);
  await t.throwsAsync(ensureRepository({ client: sdk(ecr.endpoint), repositoryName: 'Eks/X', catalogData: catalog }), { message: /lower case/ });
  t.is(ecr.calls.length, calls);
});

test.after('no ECR password or token appears in log lines or errors', (t) => {
  const text = [...lines, ...errors].join('\n');
  t.true(lines.length > 0 && errors.length > 0);
  for (const p of [FIRST_PASSWORD, SECOND_PASSWORD, ...t.context.ts.issued]) {
    t.false(text.includes(p));
    t.false(text.includes(Buffer.from(`AWS:${p}`).toString('base64')));
  }
});
