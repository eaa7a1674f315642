/**
 * The production path end to end against stand-ins: the production profile with `aws.ecrPublic`, a
 * token-auth registry whose token server accepts the password a fake ECR Public endpoint's
 * GetAuthorizationToken hands out (and, like ECR Public, lets anyone pull), and that fake endpoint
 * recording the control-plane calls. A counting proxy in front of the registry shows that publishing
 * never tries a cross-repository mount and that blob uploads are paced.
 */
import anyTest, { type TestFn } from 'ava';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { loadCatalog, loadPin } from '../pipeline/catalog/load.ts';
import { makePlan, type Plan } from '../pipeline/plan/plan.ts';
import { ecrArchitectures } from '../pipeline/aws/ecr-public.ts';
import { ECR_PUBLIC_BLOB_UPLOADS_PER_SECOND } from '../pipeline/publish/limits.ts';
import { MEDIA } from '../pipeline/image/media-types.ts';
import { RegistryClient } from '../pipeline/registry/index.ts';
import { parseScopes } from '../pipeline/registry/scopes.ts';
import { startFakeEcrPublic, TEST_AWS_CREDENTIALS, type FakeEcrPublic } from './helpers/fake-ecr-public.ts';
import { pacingReport, startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts';
import { makeProject, type TestProject } from './helpers/project.ts';
import { startRegistry, type RunningRegistry } from './helpers/registry.ts';
import { pullOnly, startTokenServer, type TokenServer } from './helpers/token-server.ts';

interface Ctx {
  ecr: FakeEcrPublic; ts: TokenServer; reg: RunningRegistry; proxy: FaultProxy; p: TestProject;
  run: { code: number | null; stdout: string; stderr: string };
  plan: Plan;
}

const test = anyTest as TestFn<Ctx>;
const EXISTING = 'etcd-io/etcd';
const EXISTING_CATALOG = { description: 'created by hand; must stay as it is' };

test.before(async (t) => {
  const ecr = await startFakeEcrPublic({ password: `ecr-public-${randomBytes(9).toString('hex')}` });
  const ts = await startTokenServer({ username: 'AWS', password: ecr.password, service: 'public.ecr.aws', anonymous: pullOnly });
  const reg = await startRegistry({ auth: ts.registryAuth });
  const proxy = await startFaultProxy({ target: reg.host, probability: 0 });
  const p = await makeProject({ catalog: 'mini' });
  await p.seed(); // the stand-in upstream stays on the anonymous local registry
  const config = parse(readFileSync(p.configFile, 'utf8')) as Record<string, unknown>;
  Object.assign(config, {
    imageRepo: `${proxy.host}/${p.ns}/eks-distro`,
    baseImageRepo: `${proxy.host}/${p.ns}/eks-distro-build-tooling`,
    dockerSocket: p.config().dockerSocket,
    aws: { ecrPublic: true, ecrPublicEndpoint: ecr.endpoint, ecrPublicRegistry: proxy.host },
  });
  writeFileSync(p.configFile, stringify(config));
  ecr.repositories.set(EXISTING, { repositoryName: EXISTING, catalogData: EXISTING_CATALOG, createdAt: 1 });

  const run = await p.eksd(['release', '--until', 'publish', '--events', 'plain'], {
    env: {
      EKSD_PROFILE: 'production', AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
  const c = p.config();
  const plan = makePlan({ channel: c.channel }, loadCatalog({ ...c, imageRepo: config.imageRepo as string, baseImageRepo: config.baseImageRepo as string }), loadPin(c.basePin), 1);
  t.context = { ecr, ts, reg, proxy, p, run, plan };
});

test.after.always(async (t) => {
  const { ecr, ts, reg, proxy, p } = t.context;
  await proxy?.stop();
  await reg?.stop();
  await Promise.all([ts?.stop(), ecr?.stop(), p?.cleanup()]);
});

test('the release publishes every image with the production profile', (t) => {
  const { run } = t.context;
  t.is(run.code, 0, run.stderr.slice(-4000));
  t.regex(run.stderr, /ok repositories/);
});

test('each new repository is created once with its catalog data; an existing one is left alone', (t) => {
  const { ecr, plan } = t.context;
  const creates = ecr.calls.filter((c) => c.operation === 'CreateRepository');
  const created = plan.images.filter((i) => i.apiRepository !== EXISTING);
  t.deepEqual(creates.map((c) => c.body.repositoryName).sort(), created.map((i) => i.apiRepository).sort());
  for (const image of created) {
    const expected = { description: image.description, architectures: ecrArchitectures(['amd64', 'arm64']), operatingSystems: ['Linux'] };
    const call = creates.find((c) => c.body.repositoryName === image.apiRepository);
    const put = ecr.calls.find((c) => c.operation === 'PutRepositoryCatalogData' && c.body.repositoryName === image.apiRepository);
    t.deepEqual(call?.body.catalogData ?? put?.body.catalogData, expected, image.apiRepository);
    t.deepEqual(ecr.repositories.get(image.apiRepository)?.catalogData, expected);
  }
  const touched = ecr.calls.filter((c) => c.body.repositoryName === EXISTING && c.operation !== 'DescribeRepositories');
  t.deepEqual(touched, [], 'no create or update for the existing repository');
  t.deepEqual(ecr.repositories.get(EXISTING)?.catalogData, EXISTING_CATALOG);
  t.true(ecr.calls.every((c) => c.authorization?.startsWith('AWS4-HMAC-SHA256') && c.authorization.includes(TEST_AWS_CREDENTIALS.accessKeyId)),
    'every control-plane call is signed with the environment credentials');
});

test('publishing logs in with the ECR Public token and pushes; the password never reaches the output', async (t) => {
  const { ecr, ts, run, plan, proxy } = t.context;
  t.true(ecr.calls.some((c) => c.operation === 'GetAuthorizationToken'));
  const pushes = ts.requests.filter((r) => r.user === 'AWS' && r.ok && [...parseScopes(r.scopes.join(' ')).values()].some((actions) => actions.has('push')));
  t.true(pushes.length > 0, JSON.stringify(ts.requests.slice(0, 5)));
  t.false(ts.requests.some((r) => r.user !== undefined && !r.ok), 'no login was refused');
  t.true((proxy.forwarded['blob-upload-put'] ?? 0) > 0);
  t.false(run.stderr.includes(ecr.password) || run.stdout.includes(ecr.password));
  // Every image is there, tagged, as an OCI index; read back anonymously (ECR Public allows pulls).
  const client = new RegistryClient({ registry: proxy.host });
  for (const image of plan.images) {
    const m = await client.getManifest(image.repository, image.tags.versioned);
    t.is(m.mediaType, MEDIA.ociIndex, image.repository);
    t.deepEqual(await client.listTags(image.repository), [image.tags.versioned], 'floating tags move only after the release is verified');
  }
});

test('no cross-repository mount is attempted and blob uploads are paced', (t) => {
  const { proxy } = t.context;
  t.is(proxy.received['blob-mount'] ?? 0, 0, 'no POST ?mount= reached the registry');
  const arrivals = proxy.forwardedAt['blob-upload-put'] ?? [];
  t.true(arrivals.length > 0);
  const { violations, busiest } = pacingReport(arrivals, ECR_PUBLIC_BLOB_UPLOADS_PER_SECOND);
  t.deepEqual(violations, []);
  t.log(`${arrivals.length} blob uploads, at most ${busiest} in any second`);
});
