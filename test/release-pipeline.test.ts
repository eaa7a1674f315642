/**
 * The release flow end to end against the real dockerd and registry: a complete, deterministic manifest
 * whose digests independent clients confirm, a verify that catches every kind of drift, and an
 * announcement that goes out only for a verified release, once.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { existsSync, readdirSync, readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { makeProject, type TestProject } from './helpers/project.ts';
import { FakeSns } from './helpers/fake-sns.ts';
import { validateRelease } from '../pipeline/release/validate.ts';
import { RegistryClient } from '../pipeline/registry/client.ts';
import { MEDIA } from '../pipeline/image/media-types.ts';
import type { Release } from '../pipeline/release/types.ts';

const run = promisify(execFile);

interface Released { p: TestProject; name: string; file: string; release: Release }

async function released(options: { announce?: boolean } = {}): Promise<Released> {
  const p = await makeProject({ catalog: 'mini' });
  await p.seed();
  const r = await p.eksd(['release', ...(options.announce === false ? ['--until', 'verify'] : [])]);
  if (r.code !== 0) throw new Error(`release failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  const name = 'kubernetes-1-33-eks-1';
  const file = join(p.root, 'out', 'site', 'kubernetes-1-33', `${name}.yaml`);
  return { p, name, file, release: parse(readFileSync(file, 'utf8')) as Release };
}

function images(release: Release) {
  return release.status.components.flatMap((c) => c.assets ?? []).filter((a) => a.type === 'Image');
}

function client(): RegistryClient {
  return new RegistryClient({ registry: '127.0.0.1:5000' });
}

function split(uri: string) {
  const [, repository, tag] = /^127\.0\.0\.1:5000\/(.+):([^:]+)$/.exec(uri)!;
  return { repository: repository!, tag: tag! };
}

test('the manifest is valid against the CRD, sorted, complete, and every imageDigest is what skopeo reports', async (t) => {
  const { p, release } = await released();
  t.teardown(() => p.cleanup());
  t.deepEqual(validateRelease(release, { strict: true }), []);
  const names = release.status.components.map((c) => c.name);
  t.deepEqual(names, [...names].sort());
  t.deepEqual(names, ['cni-plugins', 'etcd', 'kubernetes'], 'go-runner is built but, like upstream, not listed');
  for (const c of release.status.components) {
    const assets = (c.assets ?? []).map((a) => a.name);
    t.deepEqual(assets, [...assets].sort(), `${c.name} assets sorted`);
  }
  const imageAssets = images(release);
  t.is(imageAssets.length, 2);
  for (const a of imageAssets) {
    t.regex(a.image!.uri, /:v[0-9.]+-eks-1-33-1$/);
    const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${a.image!.uri}`]);
    t.is(`sha256:${createHash('sha256').update(stdout).digest('hex')}`, a.image!.imageDigest!, a.name);
    const inspected = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${a.image!.uri}`])).stdout) as { Architecture: string };
    t.is(inspected.Architecture, 'arm64');
  }
  const archives = release.status.components.flatMap((c) => c.assets ?? []).filter((a) => a.type === 'Archive');
  t.true(archives.length >= 4);
  for (const a of archives) {
    t.regex(a.archive!.uri, /^https:\/\/distro\.eks\.amazonaws\.com\/kubernetes-1-33\/releases\/1\/artifacts\//);
    t.regex(a.archive!.sha512, /^[0-9a-f]{128}$/);
  }
  const channel = parse(readFileSync(join(p.root, 'out', 'site', 'releasechannels', '1-33.yaml'), 'utf8')) as { status: { latestRelease: number; active: boolean } };
  t.deepEqual(channel.status, { active: true, latestRelease: 1 });
  t.true(existsSync(join(p.root, 'out', 'site', 'crds', 'releases.distro.eks.amazonaws.com-v1alpha1.yaml')));
  const sums = join(p.root, 'out', 'site', 'kubernetes-1-33', 'releases', '1', 'artifacts', 'etcd', 'v3.5.21');
  await t.notThrowsAsync(run('sha256sum', ['-c', 'SHA256SUM'], { cwd: sums }));
  await t.notThrowsAsync(run('sha512sum', ['-c', 'SHA512SUM'], { cwd: sums }));
});

test('same inputs give a byte-identical manifest apart from status.date', async (t) => {
  const { p, file } = await released();
  t.teardown(() => p.cleanup());
  const first = readFileSync(file, 'utf8');
  // A site that lost release 1 (its manifest and the channel file pointing at it): number 1 is free again.
  unlinkSync(file);
  unlinkSync(join(p.root, 'out', 'site', 'releasechannels', '1-33.yaml'));
  const again = await p.eksd(['release', '--number', '1']);
  t.is(again.code, 0, again.stderr);
  const second = readFileSync(file, 'utf8');
  const withoutDate = (s: string) => s.replace(/^ {2}date: .*$/m, '');
  t.is(withoutDate(second), withoutDate(first));
  t.not(first.match(/^ {2}date: .*$/m), null);
});

test('verify catches a deleted tag, a moved tag, a missing arm64 entry and a corrupted archive, naming each', async (t) => {
  const { p, release, file } = await released({ announce: false });
  t.teardown(() => p.cleanup());
  const ok = await p.eksd(['verify', file]);
  t.is(ok.code, 0, ok.stdout + ok.stderr);
  const reg = client();
  const [etcd, apiserver] = [images(release).find((a) => a.name === 'etcd-image')!, images(release).find((a) => a.name === 'kube-apiserver-image')!];
  const e = split(etcd.image!.uri);
  const a = split(apiserver.image!.uri);
  // A moved tag: kube-apiserver's tag now points at an index with only the amd64 entry.
  const index = (await reg.getManifest(a.repository, apiserver.image!.imageDigest!)).json as { manifests: Array<{ platform: { architecture: string } }> };
  const amd64Only = Buffer.from(JSON.stringify({ ...index, manifests: index.manifests.filter((m) => m.platform.architecture === 'amd64') }));
  const movedTo = await reg.putManifest(a.repository, a.tag, new Uint8Array(amd64Only), MEDIA.ociIndex);
  // A deleted tag: etcd's index is deleted, and with it the tag.
  await reg.deleteManifest(e.repository, etcd.image!.imageDigest!);
  // A manifest copy that records the one-platform index for kube-apiserver: verify must see the missing arm64 entry.
  const copy = readFileSync(file, 'utf8').replace(apiserver.image!.imageDigest!, movedTo);
  const copyFile = join(p.root, 'copy.yaml');
  writeFileSync(copyFile, copy);
  // A corrupted archive on the site.
  const archive = release.status.components.find((c) => c.name === 'etcd')!.assets!.find((x) => x.type === 'Archive')!;
  const archiveFile = join(p.root, 'out', 'site', archive.archive!.uri.replace('https://distro.eks.amazonaws.com/', ''));
  writeFileSync(archiveFile, Buffer.concat([readFileSync(archiveFile), Buffer.from('tampered')]));

  const bad = await p.eksd(['verify', file, '--attempts', '2']);
  t.is(bad.code, 3);
  t.regex(bad.stdout, /etcd-image .*tag 127\.0\.0\.1:5000\/.*etcd:v3\.5\.21-eks-1-33-1 does not exist/);
  t.regex(bad.stdout, /kube-apiserver-image .*points at sha256:[0-9a-f]+, the release records/);
  t.regex(bad.stdout, new RegExp(`${archive.name.replace(/\./g, '\\.')} .*has sha256 [0-9a-f]{64}, the release records`));
  const missing = await p.eksd(['verify', copyFile, '--attempts', '1', '--json']);
  t.is(missing.code, 3);
  const report = JSON.parse(missing.stdout) as { problems: Array<{ asset: string; problem: string }> };
  t.true(report.problems.some((x) => x.asset === 'kube-apiserver-image' && /has no linux\/arm64 entry/.test(x.problem)), missing.stdout);
});

test('no announcement when verify fails; the release stays un-announced until it verifies', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  const partial = await p.eksd(['release', '--until', 'release']);
  t.is(partial.code, 0, partial.stderr);
  const release = parse(readFileSync(join(p.root, 'out', 'site', 'kubernetes-1-33', 'kubernetes-1-33-eks-1.yaml'), 'utf8')) as Release;
  const etcd = images(release).find((a) => a.name === 'etcd-image')!;
  const { repository, tag } = split(etcd.image!.uri);
  const reg = client();
  const bytes = (await reg.getManifest(repository, etcd.image!.imageDigest!)).bytes;
  await reg.deleteManifest(repository, etcd.image!.imageDigest!);
  const failed = await p.eksd(['release']);
  t.is(failed.code, 3, failed.stderr);
  t.regex(failed.stderr, /VERIFY_FAILED: kubernetes-1-33-eks-1 failed verification .*it was not announced/s);
  t.false(existsSync(join(p.root, 'out', 'announcements')) && readdirSync(join(p.root, 'out', 'announcements')).length > 0);
  await reg.putManifest(repository, tag, new Uint8Array(bytes), MEDIA.ociIndex);
  const resumed = await p.eksd(['release']);
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stderr, /resuming release 1/);
  t.deepEqual(readdirSync(join(p.root, 'out', 'announcements')), ['kubernetes-1-33-eks-1.json']);
  const again = await p.eksd(['announce', 'kubernetes-1-33-eks-1']);
  t.is(again.code, 0);
  t.regex(again.stdout, /already announced/);
  t.deepEqual(readdirSync(join(p.root, 'out', 'announcements')), ['kubernetes-1-33-eks-1.json'], 'no second announcement');
});

test('SNS: subject, message structure and attributes; a missing topic fails clearly and a later announce sends it', async (t) => {
  const topic = 'arn:aws:sns:us-east-1:000000000000:eks-distro-updates';
  const sns = new FakeSns([topic]);
  const endpoint = await sns.start();
  t.teardown(() => sns.stop());
  const { p } = await released({ announce: false });
  t.teardown(() => p.cleanup());
  const env = { EKSD_ANNOUNCE: 'sns', EKSD_SNS_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: 'AKIDLOCAL', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const missing = await p.eksd(['release'], { env: { ...env, EKSD_SNS_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:no-such-topic' } });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /ANNOUNCE_FAILED.*no-such-topic/s);
  t.is(sns.publishes.length, 0);
  const sent = await p.eksd(['announce', 'kubernetes-1-33-eks-1'], { env: { ...env, EKSD_SNS_TOPIC_ARN: topic } });
  t.is(sent.code, 0, sent.stderr);
  t.is(sns.publishes.length, 1);
  const msg = sns.publishes[0]!;
  t.is(msg.TopicArn, topic);
  t.regex(msg.Subject!, /kubernetes-1-33-eks-1/);
  t.true(msg.Subject!.length <= 100);
  t.is(msg.MessageStructure, 'json');
  const body = JSON.parse(msg.Message) as { default: string; email: string; sqs: string };
  t.regex(body.email, /kubernetes-1-33-eks-1/);
  t.is((JSON.parse(body.sqs) as { release: string }).release, 'kubernetes-1-33-eks-1');
  t.deepEqual(msg.MessageAttributes.channel, { DataType: 'String', StringValue: '1-33' });
  t.deepEqual(msg.MessageAttributes.number, { DataType: 'Number', StringValue: '1' });
  t.deepEqual(msg.MessageAttributes.release, { DataType: 'String', StringValue: 'kubernetes-1-33-eks-1' });
  const twice = await p.eksd(['release'], { env: { ...env, EKSD_SNS_TOPIC_ARN: topic } });
  t.is(twice.code, 0, twice.stderr);
  t.is(sns.publishes.length, 1, 'the resumed run does not announce again');
});
