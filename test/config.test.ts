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
