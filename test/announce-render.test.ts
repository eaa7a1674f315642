import test from 'ava';
import { createHash } from 'node:crypto';
import { isEksdError } from '../pipeline/errors.ts';
import { renderAnnouncement, safeSubject } from '../pipeline/announce/render.ts';
import { buildRelease } from '../pipeline/release/manifest.ts';
import { manifestUrl } from '../pipeline/release/naming.ts';
import { releaseDocuments } from '../pipeline/release/documents.ts';
import { contentChanges } from '../pipeline/release/compare.ts';
import type { Release, ReleaseInput } from '../pipeline/release/types.ts';

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');
const BASE = 'https://distro.eks.amazonaws.com';

interface Versions { k8s: string; etcd: string; build: Record<string, string> }

function release(n: number, v: Versions): Release {
  const img = (repo: string, name: string, tag: string) => ({
    name, repository: `${repo}/${name}`, uri: `public.ecr.aws/eks-distro/${repo}/${name}:${tag}-eks-1-33-${n}`,
    digest: `sha256:${hex(`${name}${tag}${v.build[name] ?? ''}`)}`, description: `${name} container image`, platforms: ['linux/amd64', 'linux/arm64'],
  });
  const input: ReleaseInput = {
    channel: '1-33', number: n, date: `2025-06-${String(n).padStart(2, '0')}T12:00:00Z`, siteBaseUrl: BASE,
    components: [
      { name: 'kubernetes', gitTag: v.k8s, images: [img('kubernetes', 'kube-apiserver', v.k8s), img('kubernetes', 'kube-proxy', v.k8s)], archives: [] },
      {
        name: 'etcd', gitTag: v.etcd, images: [img('etcd-io', 'etcd', v.etcd)],
        archives: [{ name: `etcd-linux-amd64-${v.etcd}.tar.gz`, project: 'etcd', gitTag: v.etcd, path: '/x', os: 'linux', arch: ['amd64'], description: 'etcd tarball for linux/amd64', sha256: hex('e'), sha512: 'f'.repeat(128) }],
      },
      { name: 'coredns', gitTag: 'v1.11.4', images: [img('coredns', 'coredns', 'v1.11.4')], archives: [] },
    ],
  };
  return buildRelease(input);
}

const r17 = release(17, { k8s: 'v1.33.4', etcd: 'v3.5.21', build: {} });
const r18 = release(18, { k8s: 'v1.33.5', etcd: 'v3.5.21', build: { etcd: 'al2-2025-06' } });
const url18 = manifestUrl(BASE, '1-33', 18);

test('subject, attributes and SNS message structure', (t) => {
  const a = renderAnnouncement(r18, { previous: r17, manifestUrl: url18 });
  t.is(a.subject, 'EKS Distro kubernetes-1-33-eks-18 released');
  t.is(a.release, 'kubernetes-1-33-eks-18');
  t.deepEqual(a.attributes, {
    channel: { DataType: 'String', StringValue: '1-33' },
    number: { DataType: 'Number', StringValue: '18' },
    release: { DataType: 'String', StringValue: 'kubernetes-1-33-eks-18' },
    event: { DataType: 'String', StringValue: 'release' },
  });
  const msg = JSON.parse(a.message) as Record<string, string>;
  t.deepEqual(Object.keys(msg), ['default', 'email', 'sqs']);
  t.is(msg.default, a.text);
  t.is(msg.email, a.text);
  t.deepEqual(JSON.parse(msg.sqs!), a.json);
});

test('JSON body says which images changed and why', (t) => {
  const { json } = renderAnnouncement(r18, { previous: r17, manifestUrl: url18 });
  t.like(json, { release: 'kubernetes-1-33-eks-18', channel: '1-33', number: 18, date: '2025-06-18T12:00:00Z', manifestUrl: url18, republish: false, previous: 'kubernetes-1-33-eks-17' });
  t.deepEqual(json.components.map((c) => [c.name, c.gitTag]), [['coredns', 'v1.11.4'], ['etcd', 'v3.5.21'], ['kubernetes', 'v1.33.5']]);
  const changed = Object.fromEntries(json.components.flatMap((c) => c.images.map((i) => [i.name, i.changed])));
  t.deepEqual(changed, {
    'coredns-image': null,
    'etcd-image': 'new digest, rebuilt (base image or recipe updated)',
    'kube-apiserver-image': 'new digest, version v1.33.4 -> v1.33.5',
    'kube-proxy-image': 'new digest, version v1.33.4 -> v1.33.5',
  });
  const etcd = json.components[1]!;
  t.deepEqual(etcd.images[0], {
    name: 'etcd-image', uri: 'public.ecr.aws/eks-distro/etcd-io/etcd:v3.5.21-eks-1-33-18',
    digest: `sha256:${hex('etcdv3.5.21al2-2025-06')}`, changed: 'new digest, rebuilt (base image or recipe updated)',
  });
  t.deepEqual(etcd.archives, [{
    name: 'etcd-linux-amd64-v3.5.21.tar.gz', uri: `${BASE}/kubernetes-1-33/releases/18/artifacts/etcd/v3.5.21/etcd-linux-amd64-v3.5.21.tar.gz`,
    os: 'linux', arch: ['amd64'], sha256: hex('e'), sha512: 'f'.repeat(128),
  }]);
  t.deepEqual(json.summary, { images: 4, changed: 3, unchanged: 1 });
  t.deepEqual(json.removed, []);
});

test('text body is readable: release facts, component table, changes', (t) => {
  const { text } = renderAnnouncement(r18, { previous: r17, manifestUrl: url18 });
  t.is(text, [
    'Amazon EKS Distro kubernetes-1-33-eks-18 is now available.',
    '',
    'Release:   kubernetes-1-33-eks-18',
    'Channel:   1-33',
    'Number:    18',
    'Date:      2025-06-18T12:00:00Z',
    `Manifest:  ${url18}`,
    '',
    'Components:',
    '  NAME        VERSION  IMAGES  ARCHIVES',
    '  coredns     v1.11.4  1       0',
    '  etcd        v3.5.21  1       1',
    '  kubernetes  v1.33.5  2       0',
    '',
    'Images changed since kubernetes-1-33-eks-17 (3 of 4):',
    '  etcd-image (etcd): new digest, rebuilt (base image or recipe updated)',
    '      public.ecr.aws/eks-distro/etcd-io/etcd:v3.5.21-eks-1-33-18',
    `      sha256:${hex('etcdv3.5.21al2-2025-06')}`,
    '  kube-apiserver-image (kubernetes): new digest, version v1.33.4 -> v1.33.5',
    '      public.ecr.aws/eks-distro/kubernetes/kube-apiserver:v1.33.5-eks-1-33-18',
    `      sha256:${hex('kube-apiserverv1.33.5')}`,
    '  kube-proxy-image (kubernetes): new digest, version v1.33.4 -> v1.33.5',
    '      public.ecr.aws/eks-distro/kubernetes/kube-proxy:v1.33.5-eks-1-33-18',
    `      sha256:${hex('kube-proxyv1.33.5')}`,
    'Unchanged images: 1',
    '',
    `Install: kubectl apply -f ${url18}`,
    'Images can be pulled by tag or by digest (imageDigest in the manifest).',
    '',
  ].join('\n'));
});

test('first release in the channel, republish, removed images', (t) => {
  const first = renderAnnouncement(release(1, { k8s: 'v1.33.0', etcd: 'v3.5.21', build: {} }), { manifestUrl: manifestUrl(BASE, '1-33', 1) });
  t.true(first.json.components.every((c) => c.images.every((i) => i.changed === 'first release in channel')));
  t.is(first.json.previous, null);
  t.regex(first.text, /^Images \(4, first release in channel 1-33\):$/m);

  const again = renderAnnouncement(r18, { previous: r17, manifestUrl: url18, republish: true });
  t.is(again.subject, 'EKS Distro kubernetes-1-33-eks-18 republished');
  t.true(again.json.republish);
  t.regex(again.text, /^This is a republished announcement of Amazon EKS Distro kubernetes-1-33-eks-18/);

  const prev = structuredClone(r17);
  prev.status.components[0]!.assets.push({ name: 'coredns-extra-image', type: 'Image', os: 'linux', arch: ['amd64'], description: 'x', image: { uri: 'r/x:t', imageDigest: `sha256:${hex('x')}` } });
  const withRemoved = renderAnnouncement(r18, { previous: prev, manifestUrl: url18 });
  t.deepEqual(withRemoved.json.removed, ['coredns/coredns-extra-image']);
  t.regex(withRemoved.text, /Images removed since kubernetes-1-33-eks-17: coredns\/coredns-extra-image/);

  const same = renderAnnouncement(r17, { previous: r17, manifestUrl: url18 });
  t.regex(same.text, /^No image changed since kubernetes-1-33-eks-17\.\nUnchanged images: 4$/m);
});

test('subjects stay within SNS limits', (t) => {
  t.is(safeSubject('EKS Distro kubernetes-1-33-eks-18 released'), 'EKS Distro kubernetes-1-33-eks-18 released');
  const long = safeSubject(`EKS Distro ${'x'.repeat(200)}`);
  t.is(long.length, 100);
  t.true(long.endsWith('...'));
  t.is(safeSubject('a\nb\tc — d'), 'a b c d');
});

test('a message over the SNS size limit fails before any publish', (t) => {
  const big = structuredClone(r18);
  big.status.components[0]!.assets = Array.from({ length: 2000 }, (_, i) => ({
    name: `image-${String(i).padStart(4, '0')}-image`, type: 'Image' as const, os: 'linux' as const, arch: ['amd64'], description: 'd',
    image: { uri: `public.ecr.aws/eks-distro/some/long/repository/name/image-${i}:v1.0.0-eks-1-33-18`, imageDigest: `sha256:${hex(String(i))}` },
  }));
  t.true(isEksdError(t.throws(() => renderAnnouncement(big, { manifestUrl: url18 })), 'ANNOUNCE_TOO_LARGE'));
});

test('rebuild reasons from the build keys replace the generic one', (t) => {
  const { json, text } = renderAnnouncement(r18, { previous: r17, manifestUrl: url18, reasons: { 'etcd-image': 'upstream base image updated' } });
  const etcd = json.components.find((c) => c.name === 'etcd')!;
  t.is(etcd.images[0]!.changed, 'new digest, rebuilt (upstream base image updated)');
  t.regex(text, /upstream base image updated/);
});

test('the release documents: index.md with every image digest, a CHANGELOG of what changed and why, the announcement text', (t) => {
  const text = renderAnnouncement(r18, { previous: r17, manifestUrl: url18 }).text;
  const docs = Object.fromEntries(releaseDocuments({ release: r18, previous: r17, manifestUrl: url18, reasons: { 'etcd-image': 'upstream base image updated' }, announcementText: text })
    .map((d) => [d.key, d.text]));
  t.deepEqual(Object.keys(docs), ['kubernetes-1-33/releases/18/index.md', 'kubernetes-1-33/releases/18/CHANGELOG.md', 'kubernetes-1-33/releases/18/announcement.txt']);
  const index = docs['kubernetes-1-33/releases/18/index.md']!;
  t.true(index.includes(url18));
  for (const c of r18.status.components) for (const a of c.assets.filter((x) => x.type === 'Image')) t.true(index.includes(`| ${a.image!.uri} | ${a.image!.imageDigest} |`), a.name);
  const changelog = docs['kubernetes-1-33/releases/18/CHANGELOG.md']!;
  t.regex(changelog, /Since kubernetes-1-33-eks-17/);
  t.regex(changelog, /kubernetes version: v1\.33\.4 -> v1\.33\.5/);
  t.regex(changelog, /etcd\/etcd-image: new digest, rebuilt \(upstream base image updated\)/);
  t.notRegex(changelog, /coredns-image/, 'an unchanged image is not listed');
  t.is(docs['kubernetes-1-33/releases/18/announcement.txt'], text);
  const first = releaseDocuments({ release: r17, manifestUrl: url18, reasons: {}, announcementText: '' })[1]!.text;
  t.regex(first, /First release of channel 1-33/);
});

test('what differs between releases: versions, image digests, archive checksums; not numbers, dates or URIs', (t) => {
  t.deepEqual(contentChanges(release(19, { k8s: 'v1.33.4', etcd: 'v3.5.21', build: {} }), r17), [], 'the same content under another number');
  t.deepEqual(contentChanges(r18, r17).map((c) => c.what), ['etcd/etcd-image digest', 'kubernetes version', 'kubernetes/kube-apiserver-image digest', 'kubernetes/kube-proxy-image digest']);
});
