import { DirStore } from '../pipeline/store/dir.ts';
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { isEksdError } from '../pipeline/errors.ts';
import { buildRelease, renderRelease } from '../pipeline/release/manifest.ts';
import {
  latestNumber, nextNumber, previousRelease, readRelease, stageArchives, writeChannel, writeManifest,
} from '../pipeline/site/site.ts';
import type { ArchiveResult, ReleaseInput } from '../pipeline/release/types.ts';

const run = promisify(execFile);
const hex = (algo: 'sha256' | 'sha512', data: string | Buffer): string => createHash(algo).update(data).digest('hex');

const dirs: string[] = [];
const store = (dir: string): DirStore => new DirStore(dir);
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'eksd-site-'));
  dirs.push(d);
  return d;
}
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function artifact(srcDir: string, project: string, gitTag: string, name: string, content: string, os?: 'linux' | 'windows', arch: string[] = []): Promise<ArchiveResult> {
  const path = join(srcDir, project, gitTag, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  return { name, project, gitTag, path, ...(os ? { os } : {}), arch, description: `${name}`, sha256: hex('sha256', content), sha512: hex('sha512', content) };
}

async function input(srcDir: string, number = 1, etcdContent = 'etcd amd64 tarball'): Promise<ReleaseInput> {
  const img = (name: string, repo: string, tag: string) => ({
    name, repository: repo, uri: `127.0.0.1:5000/${repo}:${tag}-eks-1-33-${number}`,
    digest: `sha256:${hex('sha256', name)}`, description: `${name} container image`, platforms: ['linux/amd64', 'linux/arm64'],
  });
  return {
    channel: '1-33', number, date: '2025-06-01T12:00:00Z', siteBaseUrl: 'https://distro.example.test',
    components: [
      {
        name: 'kubernetes', gitTag: 'v1.33.5', images: [img('kube-apiserver', 'kubernetes/kube-apiserver', 'v1.33.5')],
        archives: [
          await artifact(srcDir, 'kubernetes', 'v1.33.5', 'kubernetes-src.tar.gz', 'source tree'),
          await artifact(srcDir, 'kubernetes', 'v1.33.5', 'bin/linux/amd64/kubelet', 'kubelet amd64 binary', 'linux', ['amd64']),
          await artifact(srcDir, 'kubernetes', 'v1.33.5', 'bin/windows/amd64/kubectl.exe', 'kubectl windows binary', 'windows', ['amd64']),
        ],
      },
      {
        name: 'etcd', gitTag: 'v3.5.21', images: [img('etcd', 'etcd-io/etcd', 'v3.5.21')],
        archives: [
          await artifact(srcDir, 'etcd', 'v3.5.21', 'etcd-linux-amd64-v3.5.21.tar.gz', etcdContent, 'linux', ['amd64']),
          await artifact(srcDir, 'etcd', 'v3.5.21', 'etcd-linux-arm64-v3.5.21.tar.gz', 'etcd arm64 tarball', 'linux', ['arm64']),
        ],
      },
    ],
  };
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

test('archives are staged with per-file and aggregate checksum files that sha256sum/sha512sum accept', async (t) => {
  const src = await tempDir();
  const site = await tempDir();
  const inp = await input(src);
  const res = await stageArchives(store(site), inp);
  t.is(res.archives.length, 5);
  t.true(res.archives.every((a) => a.copied));
  t.deepEqual(res.folders, ['kubernetes-1-33/releases/1/artifacts/etcd/v3.5.21', 'kubernetes-1-33/releases/1/artifacts/kubernetes/v1.33.5']);

  const k8s = join(site, 'kubernetes-1-33/releases/1/artifacts/kubernetes/v1.33.5');
  t.deepEqual(await listFiles(k8s), [
    'SHA256SUM', 'SHA256SUM.sha256', 'SHA256SUM.sha512', 'SHA512SUM', 'SHA512SUM.sha256', 'SHA512SUM.sha512',
    'bin/linux/amd64/kubelet', 'bin/linux/amd64/kubelet.sha256', 'bin/linux/amd64/kubelet.sha512',
    'bin/windows/amd64/kubectl.exe', 'bin/windows/amd64/kubectl.exe.sha256', 'bin/windows/amd64/kubectl.exe.sha512',
    'kubernetes-src.tar.gz', 'kubernetes-src.tar.gz.sha256', 'kubernetes-src.tar.gz.sha512',
  ]);
  t.is(await readFile(join(k8s, 'bin/linux/amd64/kubelet.sha256'), 'utf8'), `${hex('sha256', 'kubelet amd64 binary')}  bin/linux/amd64/kubelet\n`);
  t.is(await readFile(join(k8s, 'SHA256SUM'), 'utf8'), [
    `${hex('sha256', 'kubelet amd64 binary')}  bin/linux/amd64/kubelet`,
    `${hex('sha256', 'kubectl windows binary')}  bin/windows/amd64/kubectl.exe`,
    `${hex('sha256', 'source tree')}  kubernetes-src.tar.gz`, '',
  ].join('\n'));
  const sum512 = await readFile(join(k8s, 'SHA512SUM'), 'utf8');
  t.is(await readFile(join(k8s, 'SHA512SUM.sha256'), 'utf8'), `${hex('sha256', sum512)}  SHA512SUM\n`);

  for (const folder of res.folders) {
    const cwd = join(site, folder);
    for (const [tool, files] of [
      ['sha256sum', ['SHA256SUM', 'SHA256SUM.sha256', 'SHA512SUM.sha256']],
      ['sha512sum', ['SHA512SUM', 'SHA256SUM.sha512', 'SHA512SUM.sha512']],
    ] as const) {
      const { stdout } = await run(tool, ['--strict', '-c', ...files], { cwd });
      t.notRegex(stdout, /FAILED/);
    }
    const perFile = (await listFiles(cwd)).filter((f) => /\.sha(256|512)$/.test(f) && !f.startsWith('SHA'));
    for (const f of perFile) await t.notThrowsAsync(run(f.endsWith('.sha256') ? 'sha256sum' : 'sha512sum', ['--strict', '-c', f], { cwd }), f);
  }
});

test('staging is idempotent and refuses to change a published release', async (t) => {
  const src = await tempDir();
  const site = await tempDir();
  const inp = await input(src);
  await stageArchives(store(site), inp);
  const before = await stat(join(site, 'kubernetes-1-33/releases/1/artifacts/etcd/v3.5.21/SHA256SUM'));
  const again = await stageArchives(store(site), inp);
  t.deepEqual(again.written, []);
  t.true(again.archives.every((a) => !a.copied));
  t.is((await stat(join(site, 'kubernetes-1-33/releases/1/artifacts/etcd/v3.5.21/SHA256SUM'))).mtimeMs, before.mtimeMs);

  // Archives are write-once as soon as they are on the site (public, even before the manifest names
  // them): a changed artifact under the same release is refused, naming the object, and nothing changes.
  const changed = await input(await tempDir(), 1, 'etcd amd64 tarball, rebuilt');
  const e = await t.throwsAsync(stageArchives(store(site), changed));
  t.true(isEksdError(e, 'ARCHIVE_EXISTS'));
  t.regex(e!.message, /etcd-linux-amd64-v3\.5\.21\.tar\.gz/);
  t.regex((e as { hint?: string }).hint ?? '', /next release number/);
  t.is(await readFile(join(site, 'kubernetes-1-33/releases/1/artifacts/etcd/v3.5.21/etcd-linux-amd64-v3.5.21.tar.gz'), 'utf8'), 'etcd amd64 tarball');
});

test('a source file that does not match its checksum is not staged', async (t) => {
  const src = await tempDir();
  const site = await tempDir();
  const inp = await input(src);
  await writeFile(inp.components[1]!.archives[0]!.path, 'tampered');
  const e = await t.throwsAsync(stageArchives(store(site), inp));
  t.true(isEksdError(e, 'ARCHIVE_CHECKSUM_MISMATCH'));
  t.is((e as { where?: string }).where, inp.components[1]!.archives[0]!.path);
  const etcdDir = join(site, 'kubernetes-1-33/releases/1/artifacts/etcd/v3.5.21');
  const left = await readdir(etcdDir).catch(() => [] as string[]);
  t.false(left.includes('etcd-linux-amd64-v3.5.21.tar.gz'));
  t.false(left.some((f) => f.endsWith('.tmp')), 'no temp files left');

  const missing = await input(await tempDir());
  missing.components[0]!.archives[0]!.path = join(src, 'does-not-exist');
  t.true(isEksdError(await t.throwsAsync(stageArchives(store(await tempDir()), missing)), 'ARCHIVE_MISSING'));
});

test('manifest is write-once: identical apart from date is a no-op, different is RELEASE_EXISTS', async (t) => {
  const src = await tempDir();
  const site = await tempDir();
  const inp = await input(src, 3);
  const release = buildRelease(inp);
  const first = await writeManifest(store(site), release);
  t.true(first.written);
  t.is(first.path, join(site, 'kubernetes-1-33/kubernetes-1-33-eks-3.yaml'));
  t.is(await readFile(first.path, 'utf8'), renderRelease(release));

  const rerun = await writeManifest(store(site), buildRelease({ ...inp, date: '2025-06-02T00:00:00Z' }));
  t.false(rerun.written);
  t.is(rerun.release.status.date, '2025-06-01T12:00:00Z', 'the existing manifest is kept');
  t.is(await readFile(first.path, 'utf8'), renderRelease(release));

  const other = await input(src, 3);
  other.components[1]!.images[0]!.digest = `sha256:${'d'.repeat(64)}`;
  const e = await t.throwsAsync(writeManifest(store(site), buildRelease(other)));
  t.true(isEksdError(e, 'RELEASE_EXISTS'));
  t.is((e as { where?: string }).where, first.path);
  t.regex(e!.message, /imageDigest/);
  t.regex((e as { hint?: string }).hint ?? '', /kubernetes-1-33-eks-4/);
  t.false((await readdir(join(site, 'kubernetes-1-33'))).some((f) => f.endsWith('.tmp')));
});

test('release numbers come from the manifests on the site', async (t) => {
  const src = await tempDir();
  const site = await tempDir();
  t.is(await latestNumber(store(site), '1-33'), 0);
  t.is(await nextNumber(store(site), '1-33'), 1);
  t.is(await previousRelease(store(site), '1-33', 1), undefined);
  for (const n of [1, 2, 10]) await writeManifest(store(site), buildRelease(await input(src, n)));
  await writeFile(join(site, 'kubernetes-1-33', 'kubernetes-1-32-eks-99.yaml'), 'not ours');
  await writeFile(join(site, 'kubernetes-1-33', 'notes.txt'), '');
  t.is(await latestNumber(store(site), '1-33'), 10);
  t.is(await nextNumber(store(site), '1-33'), 11);
  t.is(await nextNumber(store(site), '1-32'), 1);
  t.is((await previousRelease(store(site), '1-33', 3))?.metadata.name, 'kubernetes-1-33-eks-2');
  t.is(await previousRelease(store(site), '1-33', 10), undefined, 'no release 9');
});

test('channel file is overwritten, never moved back; CRDs are copied once', async (t) => {
  const site = await tempDir();
  const arn = 'arn:aws:sns:us-east-1:123456789012:eks-distro-updates';
  const first = await writeChannel(store(site), { channel: '1-33', latestRelease: 1, snsTopicArn: arn, active: true });
  t.is(first.path, join(site, 'releasechannels/1-33.yaml'));
  t.is(await readFile(first.path, 'utf8'), [
    'apiVersion: distro.eks.amazonaws.com/v1alpha1', 'kind: ReleaseChannel', 'metadata:', '  creationTimestamp: null', '  name: 1-33',
    'spec:', `  snsTopicARN: ${arn}`, 'status:', '  active: true', '  latestRelease: 1', '',
  ].join('\n'));
  t.deepEqual(first.crds.map((c) => c.status), ['written', 'written']);
  t.deepEqual((await readdir(join(site, 'crds'))).sort(), [
    'releasechannels.distro.eks.amazonaws.com-v1alpha1.yaml', 'releases.distro.eks.amazonaws.com-v1alpha1.yaml',
  ]);

  const second = await writeChannel(store(site), { channel: '1-33', latestRelease: 2, snsTopicArn: arn, active: true });
  t.true(second.written);
  t.regex(await readFile(first.path, 'utf8'), /latestRelease: 2\n/);
  t.deepEqual(second.crds.map((c) => c.status), ['unchanged', 'unchanged']);

  const crd = join(site, 'crds/releases.distro.eks.amazonaws.com-v1alpha1.yaml');
  await writeFile(crd, '# edited upstream copy\n');
  const third = await writeChannel(store(site), { channel: '1-33', latestRelease: 2, snsTopicArn: arn, active: false });
  t.deepEqual(third.crds.map((c) => c.status), ['kept-existing', 'unchanged']);
  t.is(await readFile(crd, 'utf8'), '# edited upstream copy\n');
  t.regex(await readFile(first.path, 'utf8'), /active: false/);

  const e = await t.throwsAsync(writeChannel(store(site), { channel: '1-33', latestRelease: 1, snsTopicArn: arn, active: true }));
  t.true(isEksdError(e, 'CHANNEL_REGRESSION'));
});

test('readRelease by path, by name in the site, and by URL', async (t) => {
  const src = await tempDir();
  const site = await tempDir();
  const release = buildRelease(await input(src, 4));
  const { path } = await writeManifest(store(site), release);
  t.deepEqual(await readRelease(path), release);
  t.deepEqual(await readRelease('kubernetes-1-33-eks-4', { site: store(site) }), release);
  t.true(isEksdError(await t.throwsAsync(readRelease('kubernetes-1-33-eks-5', { site: store(site) })), 'RELEASE_NOT_FOUND'));
  t.true(isEksdError(await t.throwsAsync(readRelease(join(site, 'nope.yaml'))), 'RELEASE_NOT_FOUND'));

  const text = await readFile(path, 'utf8');
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/kubernetes-1-33/kubernetes-1-33-eks-4.yaml') res.end(text);
    else if (req.url === '/kubernetes-1-33/kubernetes-1-33-eks-6.yaml') res.end('kind: Release\nspec: {number: "x"}\n');
    else { res.statusCode = 404; res.end('not found'); }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  t.deepEqual(await readRelease(`${base}/kubernetes-1-33/kubernetes-1-33-eks-4.yaml`), release);
  t.deepEqual(await readRelease('kubernetes-1-33-eks-4', { siteBaseUrl: base }), release);
  t.deepEqual(await previousRelease(store(await tempDir()), '1-33', 5, { siteBaseUrl: base }), release);
  t.is(await previousRelease(store(await tempDir()), '1-33', 4, { siteBaseUrl: base }), undefined);
  const bad = await t.throwsAsync(readRelease(`${base}/kubernetes-1-33/kubernetes-1-33-eks-6.yaml`));
  t.true(isEksdError(bad, 'RELEASE_INVALID'));
  t.true(((bad as { where?: string }).where ?? '').startsWith(`${base}/kubernetes-1-33/kubernetes-1-33-eks-6.yaml:`));
  t.true(requests.length >= 5);
});
