/** Configuration precedence: profile < --config file < EKSD_* environment < flags; bad values are named. */
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../pipeline/config/config.ts';
import { EksdError } from '../pipeline/errors.ts';

const root = '/srv/project';

test('the local profile needs no AWS and resolves paths against the project root', (t) => {
  const c = loadConfig({ env: {}, root });
  t.is(c.profile, 'local');
  t.is(c.imageRepo, '127.0.0.1:5000/eks-distro');
  t.is(c.announce.kind, 'outbox');
  t.is(c.announce.dir, '/srv/project/out/announcements');
  t.is(c.site.dir, '/srv/project/out/site');
  t.is(c.artifacts.baseUrl, 'file:///srv/project/out/local/artifacts');
  t.false(c.aws.ecrPublic);
});

test('the production profile targets ECR Public and SNS', (t) => {
  const c = loadConfig({ profile: 'production', env: {}, root });
  t.is(c.imageRepo, 'public.ecr.aws/eks-distro');
  t.is(c.announce.kind, 'sns');
  t.regex(c.announce.topicArn!, /^arn:aws:sns:us-east-1:/);
  t.true(c.aws.ecrPublic);
  t.is(c.basePin, '/srv/project/base/pin.yaml');
});

test('precedence: file over profile, environment over file, flags over environment', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eksd-config-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'channel: 1-31\nimageRepo: file.example/ns\nsite: { dir: /from-file }\n');
  const fromFile = loadConfig({ configFile: file, env: {}, root });
  t.is(fromFile.channel, '1-31');
  t.is(fromFile.site.dir, '/from-file');
  t.is(fromFile.site.baseUrl, 'https://distro.eks.amazonaws.com', 'keys the file does not set keep the profile value');
  const fromEnv = loadConfig({ configFile: file, env: { EKSD_CHANNEL: '1-32', EKSD_IMAGE_REPO: 'env.example/ns' }, root });
  t.is(fromEnv.channel, '1-32');
  t.is(fromEnv.imageRepo, 'env.example/ns');
  const fromFlags = loadConfig({ configFile: file, env: { EKSD_CHANNEL: '1-32' }, overrides: { channel: '1-33' }, root });
  t.is(fromFlags.channel, '1-33');
  t.is(loadConfig({ env: { EKSD_PROFILE: 'production' }, root }).profile, 'production');
});

test('a bad value from the environment is rejected with the field and what is expected', (t) => {
  const e = t.throws(() => loadConfig({ env: { EKSD_CHANNEL: '1.33' }, root }), { instanceOf: EksdError });
  t.is(e!.code, 'SCHEMA_INVALID');
  t.regex(e!.message, /channel: "1\.33" does not match/);
  const arn = t.throws(() => loadConfig({ env: { EKSD_ANNOUNCE: 'sns', EKSD_SNS_TOPIC_ARN: 'not-an-arn' }, root }), { instanceOf: EksdError });
  t.regex(arn!.message, /announce\.topicArn/);
});

test('an unknown profile and an unknown key in a config file are named', (t) => {
  const e = t.throws(() => loadConfig({ profile: 'staging', env: {}, root }), { instanceOf: EksdError });
  t.is(e!.code, 'CONFIG_PROFILE_UNKNOWN');
  const dir = mkdtempSync(join(tmpdir(), 'eksd-config-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'registry: x\n');
  const k = t.throws(() => loadConfig({ configFile: file, env: {}, root }), { instanceOf: EksdError });
  t.regex(k!.message, /unknown key 'registry'/);
});

test('channels have no leading zeros, from the environment and from flags alike', (t) => {
  for (const channel of ['01-33', '1-033', '1-', '-33', '1-33-1']) {
    const env = t.throws(() => loadConfig({ env: { EKSD_CHANNEL: channel }, root }), { instanceOf: EksdError });
    t.regex(env!.message, new RegExp(`channel: ${JSON.stringify(channel)} does not match .*EKSD_CHANNEL and --channel`));
    t.throws(() => loadConfig({ env: {}, overrides: { channel }, root }), { instanceOf: EksdError });
  }
  t.is(loadConfig({ env: { EKSD_CHANNEL: '1-0' }, root }).channel, '1-0');
  t.is(loadConfig({ env: { EKSD_CHANNEL: '10-100' }, root }).channel, '10-100');
});

test('the site and artifact URLs are https, or plain http to a loopback host; artifacts may be file:', (t) => {
  const refused = (env: Record<string, string>, key: string, variable: string, why: RegExp) => {
    const e = t.throws(() => loadConfig({ env, root }), { instanceOf: EksdError });
    t.is(e!.code, 'CONFIG_INVALID');
    t.regex(e!.message, why);
    t.is(e!.where, `${key} (config file key, ${variable})`);
    t.regex(e!.hint!, /use an https:\/\/ URL/);
  };
  refused({ EKSD_SITE_URL: 'http://distro.example.com' }, 'site.baseUrl', 'EKSD_SITE_URL', /plain http to a host that is not loopback/);
  refused({ EKSD_SITE_URL: 'http://127.0.0.1.example.com' }, 'site.baseUrl', 'EKSD_SITE_URL', /plain http/);
  refused({ EKSD_SITE_URL: 'file:///srv/site' }, 'site.baseUrl', 'EKSD_SITE_URL', /uses file, not https/);
  refused({ EKSD_SITE_URL: 'distro.example.com' }, 'site.baseUrl', 'EKSD_SITE_URL', /is not a URL/);
  refused({ EKSD_SITE_URL: 'https://user:pw@distro.example.com' }, 'site.baseUrl', 'EKSD_SITE_URL', /carries credentials/);
  refused({ EKSD_SITE_VERIFY_URL: 'http://bucket.example.com' }, 'site.verifyUrl', 'EKSD_SITE_VERIFY_URL', /plain http/);
  refused({ EKSD_ARTIFACTS_URL: 'http://artifacts.example.com/src' }, 'artifacts.baseUrl', 'EKSD_ARTIFACTS_URL', /plain http/);
  refused({ EKSD_ARTIFACTS_URL: 'ftp://artifacts.example.com/src' }, 'artifacts.baseUrl', 'EKSD_ARTIFACTS_URL', /uses ftp, not https/);
  for (const url of ['http://127.0.0.1:8080', 'http://127.1.2.3/site', 'http://localhost:9000/', 'http://[::1]:8080', 'https://distro.example.com']) {
    t.is(loadConfig({ env: { EKSD_SITE_URL: url, EKSD_ARTIFACTS_URL: url }, root }).site.baseUrl, url);
  }
  t.is(loadConfig({ env: { EKSD_ARTIFACTS_URL: 'file:/srv/artifacts' }, root }).artifacts.baseUrl, 'file:///srv/artifacts');
  t.is(loadConfig({ env: { EKSD_ARTIFACTS_URL: 'https://u:p@artifacts.example.com/src' }, root }).artifacts.baseUrl, 'https://u:p@artifacts.example.com/src');
});

test('the release state lives apart from the site: state/ beside it by default, or its own bucket', (t) => {
  const atRoot = loadConfig({ profile: 'production', env: { EKSD_SITE_BUCKET: 'site-bucket' }, root });
  t.is(atRoot.stateBucket, 'site-bucket');
  t.is(atRoot.statePrefix, 'state/');
  const prefixed = loadConfig({ profile: 'production', env: { EKSD_SITE_BUCKET: 'site-bucket', EKSD_SITE_PREFIX: 'site' }, root });
  t.is(prefixed.statePrefix, 'state/', 'not under the site prefix, as it was (site/state/)');
  const own = loadConfig({ profile: 'production', env: { EKSD_SITE_BUCKET: 'site-bucket', EKSD_STATE_BUCKET: 'state-bucket', EKSD_STATE_PREFIX: '/eksd' }, root });
  t.is(own.stateBucket, 'state-bucket');
  t.is(own.statePrefix, 'eksd/');
  t.is(loadConfig({ env: {}, root }).stateBucket, undefined, 'no bucket: the state directory');
  t.is(loadConfig({ profile: 'production', env: { EKSD_SITE_BUCKET: 'b', EKSD_S3_TIMEOUT: '15' }, root }).aws.s3TimeoutSeconds, 15);
});

test('the site prefix, anything under it, or the bucket root is refused as the state\'s home, naming the keys to set', (t) => {
  const refused = (env: Record<string, string>) => t.throws(() => loadConfig({ profile: 'production', env: { EKSD_SITE_BUCKET: 'site-bucket', ...env }, root }), { instanceOf: EksdError });
  for (const env of [{ EKSD_SITE_PREFIX: 'site/', EKSD_STATE_PREFIX: 'site/' } as Record<string, string>, { EKSD_SITE_PREFIX: 'site', EKSD_STATE_PREFIX: 'site/state' },
    { EKSD_SITE_PREFIX: 'pub/site/', EKSD_STATE_PREFIX: 'pub/' }, { EKSD_STATE_PREFIX: '/' }, { EKSD_STATE_PREFIX: 'kubernetes-1-33/' }]) {
    const e = refused(env) as EksdError;
    t.is(e.code, 'CONFIG_INVALID');
    t.regex(e.message, /^the release state cannot live at s3:\/\/site-bucket\//);
    t.regex(e.where ?? '', /statePrefix .*EKSD_STATE_PREFIX/);
    t.regex(e.hint ?? '', /EKSD_STATE_BUCKET/);
  }
  t.regex((refused({ EKSD_SITE_PREFIX: 'site', EKSD_STATE_PREFIX: 'site/state' }) as EksdError).message, /under it, so the leases, ledger and journals would be published with the site/);
  t.notThrows(() => loadConfig({ profile: 'production', env: { EKSD_SITE_BUCKET: 'site-bucket', EKSD_SITE_PREFIX: 'site/', EKSD_STATE_BUCKET: 'other', EKSD_STATE_PREFIX: 'site/' }, root }),
    'another bucket may use any prefix');
});

test('signing: the local profile signs with its key; another signer from a file or the environment replaces it; off turns it off; bad settings are named', (t) => {
  t.deepEqual(loadConfig({ env: {}, root }).signing, { kind: 'key', privateKey: '/srv/project/out/local/signing-key.pem', publicKey: '/srv/project/out/local/signing-key.pub' });
  t.is(loadConfig({ profile: 'production', env: {}, root }).signing, undefined);
  const dir = mkdtempSync(join(tmpdir(), 'eksd-config-'));
  const file = join(dir, 'eksd.yaml');
  writeFileSync(file, 'signing:\n  kind: kms\n  keyId: alias/eksd\n');
  t.deepEqual(loadConfig({ configFile: file, env: {}, root }).signing, { kind: 'kms', keyId: 'alias/eksd', region: 'us-east-1' });
  t.deepEqual(loadConfig({ profile: 'production', env: { EKSD_SIGNING: 'kms', EKSD_KMS_KEY_ID: 'arn:aws:kms:us-west-2:1:key/k', EKSD_AWS_REGION: 'us-west-2' }, root }).signing,
    { kind: 'kms', keyId: 'arn:aws:kms:us-west-2:1:key/k', region: 'us-west-2' });
  t.is(loadConfig({ env: { EKSD_SIGNING: 'off' }, root }).signing, undefined);
  const bad = t.throws(() => loadConfig({ env: { EKSD_SIGNING: 'kms' }, root }), { instanceOf: EksdError });
  t.regex(`${bad.message} ${bad.where}`, /keyId/);
});
