/**
 * The production path end to end on this machine: buildspec.yml run as CodeBuild runs it, with the
 * production profile, against a token-auth registry standing in for ECR Public (its tokens come only
 * from the fake ECR Public endpoint), the S3 stand-in behind the distro site (conditional writes, public
 * reads of public-read objects) and the fake SNS. Each build starts from a fresh workspace, as CodeBuild
 * does: whatever must survive (journal, lease, ledger, released pin) is in the bucket.
 */
import anyTest, { type TestFn } from 'ava';
import { randomBytes } from 'node:crypto';
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startFakeEcrPublic, TEST_AWS_CREDENTIALS, type FakeEcrPublic } from './helpers/fake-ecr-public.ts';
import { FakeS3 } from './helpers/fake-s3.ts';
import { FakeSns } from './helpers/fake-sns.ts';
import { makeProject, REPO_ROOT, type TestProject } from './helpers/project.ts';
import { startRegistry, type RunningRegistry } from './helpers/registry.ts';
import { pullOnly, startTokenServer, type TokenServer } from './helpers/token-server.ts';
import { runBuildspec } from './helpers/codebuild.ts';
import { runWithEvents, at } from './helpers/crash.ts';

interface Ctx {
  ecr: FakeEcrPublic; ts: TokenServer; reg: RunningRegistry; s3: FakeS3; sns: FakeSns; p: TestProject;
  env: Record<string, string>; pinFile: string; unpinned: string;
  /** per SNS message: was its manifest readable from the bucket, anonymously, when it arrived? */
  publicAtPublish: boolean[];
}

const test = anyTest as TestFn<Ctx>;
const BUCKET = 'distro-site';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:eks-distro-updates';
const manifestKey = (n: number) => `kubernetes-1-33/kubernetes-1-33-eks-${n}.yaml`;

test.before(async (t) => {
  const ecr = await startFakeEcrPublic({ password: `ecr-public-${randomBytes(9).toString('hex')}` });
  const ts = await startTokenServer({ username: 'AWS', password: ecr.password, service: 'public.ecr.aws', anonymous: pullOnly });
  const reg = await startRegistry({ auth: ts.registryAuth });
  const s3 = new FakeS3([BUCKET]);
  await s3.start();
  const sns = new FakeSns([TOPIC]);
  await sns.start();
  const p = await makeProject({ catalog: 'mini' });
  await p.seed(); // the stand-in upstream stays on the anonymous local registry
  symlinkSync(join(REPO_ROOT, 'bin'), join(p.root, 'bin'));
  const local = p.config();
  const pinFile = local.basePin;
  // The checkout's pin as committed: the reference only, no digest yet.
  const unpinned = stringify({ upstream: { reference: (parse(await readText(pinFile)) as { upstream: { reference: string } }).upstream.reference, digest: null } });
  const configFile = join(p.root, 'production.yaml');
  writeFileSync(configFile, stringify({
    channel: '1-33',
    imageRepo: `${reg.host}/${p.ns}/eks-distro`, baseImageRepo: `${reg.host}/${p.ns}/eks-distro-build-tooling`,
    basePin: pinFile, artifacts: local.artifacts, stateDir: join(p.root, 'out', 'state'), dockerSocket: local.dockerSocket,
    site: { dir: join(p.root, 'out', 'site'), baseUrl: 'https://distro.eks.amazonaws.com', verifyUrl: s3.publicUrl(BUCKET) },
    announce: { kind: 'sns', topicArn: TOPIC },
    aws: { region: 'us-east-1', ecrPublic: true, ecrPublicEndpoint: ecr.endpoint, ecrPublicRegistry: reg.host, snsEndpoint: sns.endpoint, s3Endpoint: s3.endpoint },
  }));
  const env = {
    EKSD_PROFILE: 'production', EKSD_CONFIG: configFile, EKSD_NPM_CI: 'false', EKSD_SITE_BUCKET: BUCKET, EKSD_SITE_ACL: 'public-read',
    AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey, AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const publicAtPublish: boolean[] = [];
  sns.onPublish = (m) => {
    const release = m.MessageAttributes.release?.StringValue ?? '';
    const n = Number(/-eks-(\d+)$/.exec(release)?.[1]);
    publicAtPublish.push(s3.object(BUCKET, manifestKey(n)) !== undefined);
  };
  t.context = { ecr, ts, reg, s3, sns, p, env, pinFile, unpinned, publicAtPublish };
});

test.after.always(async (t) => {
  const { ecr, ts, reg, s3, sns, p } = t.context;
  await reg?.stop();
  await Promise.all([ts?.stop(), ecr?.stop(), s3?.stop(), sns?.stop(), p?.cleanup()]);
});

async function readText(file: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(file, 'utf8');
}

/** A new CodeBuild build: a fresh checkout (no out/, the pin as committed), then the buildspec. */
function build(c: Ctx, extra: Record<string, string> = {}) {
  rmSync(join(c.p.root, 'out', 'ci'), { recursive: true, force: true });
  rmSync(join(c.p.root, 'out', 'state'), { recursive: true, force: true });
  rmSync(join(c.p.root, 'out', 'site'), { recursive: true, force: true });
  writeFileSync(c.pinFile, c.unpinned);
  return runBuildspec(c.p.root, { ...c.env, ...extra });
}

const messages = (c: Ctx, n: number) => c.sns.publishes.filter((m) => m.MessageAttributes.release?.StringValue === `kubernetes-1-33-eks-${n}`);
const ledger = (c: Ctx, n: number) => JSON.parse(c.s3.object(BUCKET, `state/announcements/kubernetes-1-33-eks-${n}.json`)?.toString() ?? 'null') as { state: string } | null;

test.serial('a CodeBuild build: the site is public and verified before the one SNS message', async (t) => {
  const c = t.context;
  const r = await build(c);
  t.deepEqual(r.exit, { install: 0, pre_build: 0, build: 0, post_build: 0 }, r.log.slice(-6000));
  t.regex(r.log, /base changed: releasing/);
  t.is(messages(c, 1).length, 1, 'exactly one message');
  t.deepEqual(c.publicAtPublish, [true], 'the manifest was in the bucket when the message arrived');
  const anonymous = await fetch(`${c.s3.publicUrl(BUCKET)}/${manifestKey(1)}`);
  t.is(anonymous.status, 200, 'readable by anyone');
  t.regex(await anonymous.text(), /name: kubernetes-1-33-eks-1/);
  for (const key of ['releasechannels/1-33.yaml', 'crds/releases.distro.eks.amazonaws.com-v1alpha1.yaml', 'state/pins/1-33.yaml']) {
    t.truthy(c.s3.object(BUCKET, key), key);
  }
  t.true(c.s3.keys(BUCKET).some((k) => /^kubernetes-1-33\/releases\/1\/artifacts\/.+\/SHA256SUM$/.test(k)), 'archives and checksums');
  t.is(ledger(c, 1)?.state, 'sent');
  t.is(c.s3.object(BUCKET, 'state/leases/1-33.json'), undefined, 'the lease was released');
});

test.serial('the next build with nothing changed releases and announces nothing', async (t) => {
  const c = t.context;
  const before = c.sns.publishes.length;
  const r = await build(c);
  t.is(r.failedPhase, undefined, r.log.slice(-4000));
  t.regex(r.log, /base unchanged/, 'watch-base compares with the pin recorded in the bucket');
  t.regex(r.log, /nothing changed since kubernetes-1-33-eks-1/);
  t.is(c.sns.publishes.length, before);
});

test.serial('a lost SNS reply: one message, the build fails with ANNOUNCE_INTERRUPTED; --mark-sent settles it and the next build sends nothing', async (t) => {
  const c = t.context;
  await c.p.seed({ update: true });
  c.sns.dropNextReply();
  const r = await build(c);
  t.is(r.failedPhase, 'build', r.log.slice(-4000));
  t.regex(r.log, /ANNOUNCE_INTERRUPTED/);
  t.regex(r.log, /--mark-sent/);
  t.is(messages(c, 2).length, 1, 'SNS got the message once');
  t.is(ledger(c, 2)?.state, 'sending');

  const mark = await c.p.eksd(['announce', 'kubernetes-1-33-eks-2', '--mark-sent'], { env: c.env });
  t.is(mark.code, 0, mark.stderr);
  t.is(ledger(c, 2)?.state, 'sent');
  const again = await build(c);
  t.is(again.failedPhase, undefined, again.log.slice(-4000));
  t.is(messages(c, 2).length, 1, 'still one message');
  t.truthy(c.s3.object(BUCKET, 'state/pins/1-33.yaml')?.toString().includes((parse(await readText(c.pinFile)) as { upstream: { digest: string } }).upstream.digest));
});

test.serial('a build whose site upload fails announces nothing; the next build finishes the release and announces it once', async (t) => {
  const c = t.context;
  await c.p.seed({ update: true });
  c.s3.failNext({ method: 'PUT', key: /^kubernetes-1-33\/kubernetes-1-33-eks-3\.yaml$/, status: 403, code: 'AccessDenied' });
  const failed = await build(c);
  t.is(failed.failedPhase, 'build', failed.log.slice(-4000));
  t.regex(failed.log, /STORE_ACCESS_DENIED[\s\S]*s3:\/\/distro-site\/kubernetes-1-33\/kubernetes-1-33-eks-3\.yaml/);
  t.is(messages(c, 3).length, 0, 'nothing announced');
  t.is(c.s3.object(BUCKET, manifestKey(3)), undefined);
  const next = await build(c);
  t.is(next.failedPhase, undefined, next.log.slice(-4000));
  t.regex(next.log, /resuming release 3/, 'resumed from the journal in the bucket');
  t.is(messages(c, 3).length, 1);
  t.true(c.publicAtPublish.every(Boolean));
});

test.serial('killed after verify, before the pointers move: the next build on a fresh machine finishes it, one announcement', async (t) => {
  const c = t.context;
  await c.p.seed({ update: true });
  writeFileSync(c.pinFile, c.unpinned);
  t.is((await c.p.eksd(['watch-base', '--write'], { env: c.env })).code, 10);
  const killed = await runWithEvents(c.p, ['release'], { killAt: at.stageFinished('verify'), env: c.env });
  t.true(killed.killed, killed.stderr.slice(-3000));
  t.truthy(c.s3.object(BUCKET, manifestKey(4)), 'the manifest is public');
  t.is(messages(c, 4).length, 0);
  t.truthy(c.s3.object(BUCKET, 'state/leases/1-33.json'), 'the killed run left its lease');
  const next = await build(c);
  t.is(next.failedPhase, undefined, next.log.slice(-4000));
  t.is(messages(c, 4).length, 1);
  t.is(c.s3.object(BUCKET, 'state/leases/1-33.json'), undefined);
});

test.serial('two releases of one channel at once with separate state directories: one releases, the other fails fast naming the holder', async (t) => {
  const c = t.context;
  await c.p.seed({ update: true });
  const before = c.sns.publishes.length;
  const run = (dir: string) => { const t0 = Date.now(); return c.p.eksd(['release', '--release-unchanged'], { env: { ...c.env, EKSD_STATE_DIR: join(c.p.root, dir) } }).then((r) => ({ ...r, ms: Date.now() - t0 })); };
  const [a, b] = await Promise.all([run('out/state-a'), run('out/state-b')]);
  const [won, lost] = a.code === 0 ? [a, b] : [b, a];
  t.is(won.code, 0, won.stderr.slice(-3000));
  t.is(lost.code, 4, lost.stderr.slice(-3000));
  t.regex(lost.stderr, /channel 1-33 is locked by pid \d+ on /);
  t.regex(lost.stderr, /s3:\/\/distro-site\/state\/leases\/1-33\.json/);
  t.true(lost.ms < won.ms, 'the loser did not wait for the winner');
  t.is(c.sns.publishes.length, before + 1, 'one announcement');
});

test.serial('the ECR Public token reaches the ECR Public host only: a mirror and a custom image repository get nothing', async (t) => {
  const c = t.context;
  const seen: string[] = [];
  const mirror: Server = createServer((req, res) => {
    if (req.headers.authorization) seen.push(req.headers.authorization);
    res.writeHead(401, { 'www-authenticate': 'Basic realm="mirror"', 'docker-distribution-api-version': 'registry/2.0', 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
  });
  await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { mirror.close(); });
  const host = `127.0.0.1:${(mirror.address() as AddressInfo).port}`;
  const republish = await c.p.eksd(['republish', 'kubernetes-1-33-eks-1', '--to', `${host}/mirror`], { env: c.env });
  t.not(republish.code, 0);
  const custom = await c.p.eksd(['release', '--until', 'publish'], { env: { ...c.env, EKSD_IMAGE_REPO: `${host}/custom` } });
  t.not(custom.code, 0);
  t.true(c.ecr.calls.some((x) => x.operation === 'GetAuthorizationToken'), 'the token exists and was used for the ECR host');
  t.deepEqual(seen, [], 'no credentials of any kind reached the mirror');
  t.false(`${republish.stderr}${custom.stderr}`.includes(c.ecr.password));
});
