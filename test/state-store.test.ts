/**
 * The release state in S3 lives apart from the site: after a release whose site is under a prefix of the
 * bucket, nothing under that prefix is a lease, a ledger entry, a journal, a pin or a probe; they are
 * under the state prefix. And a state store that ignores conditional writes (an S3-compatible endpoint
 * without If-None-Match) is found out before anything is released, as is state left inside the site by
 * an earlier version.
 */
import test from 'ava';
import { FakeS3 } from './helpers/fake-s3.ts';
import { makeProject, type TestProject } from './helpers/project.ts';
import { tail } from './helpers/crash.ts';
import { S3Store } from '../pipeline/store/s3.ts';

const BUCKET = 'distro';
const STATE_KEY = /(^|\/)(leases|announcements|runs|pins|probes)\//;

let p: TestProject;
const s3 = new FakeS3([BUCKET, 'upgraded']);
const careless = new FakeS3([BUCKET]);

test.before(async () => {
  await Promise.all([s3.start(), careless.start()]);
  careless.ignoreConditions = true;
  p = await makeProject({ catalog: 'mini' });
  await p.seed();
});

test.after.always(async () => { await Promise.all([s3.stop(), careless.stop(), p?.cleanup()]); });

test.serial('a state store that ignores conditional writes is refused before anything is released', async (t) => {
  const r = await p.eksd(['release'], { env: { ...careless.env(BUCKET), EKSD_SITE_PREFIX: 'site/' } });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /STORE_CONDITIONS_IGNORED: the state store accepted a second create-only write \(If-None-Match: \*\) of s3:\/\/distro\/state\/probes\//);
  t.regex(r.stderr, /hint: it ignores conditional writes/);
  t.deepEqual(careless.keys(BUCKET), [], 'nothing was written: no site object, no lease, no journal, no probe left');
});

test.serial('after a release with an S3 site prefix, the site holds no lease, ledger entry or journal; the state prefix does', async (t) => {
  const r = await p.eksd(['release', '--json'], { env: { ...s3.env(BUCKET), EKSD_SITE_PREFIX: 'site/' } });
  t.is(r.code, 0, tail(r.stderr));
  const keys = s3.keys(BUCKET);
  const site = keys.filter((k) => k.startsWith('site/'));
  t.true(site.includes('site/kubernetes-1-33/kubernetes-1-33-eks-1.yaml'), 'the manifest is on the site');
  t.deepEqual(site.filter((k) => STATE_KEY.test(k.slice('site/'.length))), [], 'no state object under the site prefix');
  const state = keys.filter((k) => k.startsWith('state/'));
  for (const k of ['state/runs/1-33/1.json', 'state/announcements/kubernetes-1-33-eks-1.json', 'state/pins/1-33.yaml']) t.true(state.includes(k), `${k} is in the state prefix`);
  t.false(state.some((k) => k.startsWith('state/leases/') || k.startsWith('state/probes/')), 'the lease was released and the probe removed');
  t.deepEqual(keys.filter((k) => !k.startsWith('site/') && !k.startsWith('state/')), [], 'nothing else in the bucket');
});

test.serial('state left inside the site by an earlier version (<site prefix>state/) stops the run with the command that moves it', async (t) => {
  const old = new S3Store({ bucket: 'upgraded', prefix: 'site/', region: 'us-east-1', endpoint: s3.endpoint });
  process.env.AWS_ACCESS_KEY_ID ??= 'AKIDLOCAL';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local-secret';
  await old.put('state/pins/1-33.yaml', 'upstream: {}\n');
  const r = await p.eksd(['release'], { env: { ...s3.env('upgraded'), EKSD_SITE_PREFIX: 'site/' } });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /STORE_STATE_IN_SITE: release state was found at s3:\/\/upgraded\/site\/state\/, inside the site/);
  t.regex(r.stderr, /hint: with no run going on, move it: aws s3 mv --recursive s3:\/\/upgraded\/site\/state\/ s3:\/\/upgraded\/state\//);
  t.deepEqual(s3.keys('upgraded'), ['site/state/pins/1-33.yaml'], 'nothing was written');
});
