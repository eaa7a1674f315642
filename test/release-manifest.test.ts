import test from 'ava';
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import { isEksdError } from '../pipeline/errors.ts';
import { buildRelease, parseRelease, renderRelease, sameReleaseContent } from '../pipeline/release/manifest.ts';
import type { ComponentResult, ReleaseInput } from '../pipeline/release/types.ts';
import { validateRelease } from '../pipeline/release/validate.ts';

const sha = (algo: 'sha256' | 'sha512', s: string): string => createHash(algo).update(s).digest('hex');
const REG = 'public.ecr.aws/eks-distro';

function image(repo: string, name: string, gitTag: string, n: number) {
  return {
    name,
    repository: `${repo}/${name}`,
    uri: `${REG}/${repo}/${name}:${gitTag}-eks-1-33-${n}`,
    digest: `sha256:${sha('sha256', `${name}${gitTag}`)}`,
    description: `${name} container image`,
    platforms: ['linux/arm64', 'linux/amd64'],
  };
}

function archive(project: string, gitTag: string, name: string, os?: 'linux' | 'darwin' | 'windows', arch: string[] = []) {
  return {
    name, project, gitTag, path: `/nonexistent/${name}`, ...(os ? { os } : {}), arch,
    description: `${name} for ${os ?? 'any'}/${arch.join(',')}`,
    sha256: sha('sha256', name), sha512: sha('sha512', name),
  };
}

/** Unsorted on purpose: components, images and archives in random order. */
function input(n = 5, date = '2025-06-01T12:00:00Z'): ReleaseInput {
  const components: ComponentResult[] = [
    { name: 'metrics-server', gitTag: 'v0.7.2', images: [image('kubernetes-sigs', 'metrics-server', 'v0.7.2', n)], archives: [] },
    {
      name: 'kubernetes', gitTag: 'v1.33.5', gitCommit: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
      images: [
        image('kubernetes', 'kube-scheduler', 'v1.33.5', n),
        image('kubernetes', 'kube-apiserver', 'v1.33.5', n),
        image('kubernetes', 'pause', 'v1.33.5', n),
      ],
      archives: [
        archive('kubernetes', 'v1.33.5', 'kubernetes-src.tar.gz'),
        archive('kubernetes', 'v1.33.5', 'bin/linux/arm64/kubelet', 'linux', ['arm64']),
        archive('kubernetes', 'v1.33.5', 'bin/linux/amd64/kubelet', 'linux', ['amd64']),
        archive('kubernetes', 'v1.33.5', 'bin/windows/amd64/kubectl.exe', 'windows', ['amd64']),
      ],
    },
    {
      name: 'etcd', gitTag: 'v3.5.21', images: [image('etcd-io', 'etcd', 'v3.5.21', n)],
      archives: [
        archive('etcd', 'v3.5.21', 'etcd-linux-arm64-v3.5.21.tar.gz', 'linux', ['arm64']),
        archive('etcd', 'v3.5.21', 'etcd-linux-amd64-v3.5.21.tar.gz', 'linux', ['amd64']),
      ],
    },
    {
      name: 'cni-plugins', gitTag: 'v1.6.2', images: [],
      archives: [archive('plugins', 'v1.6.2', 'cni-plugins-linux-amd64-v1.6.2.tar.gz', 'linux', ['amd64'])],
    },
    { name: 'coredns', gitTag: 'v1.11.4', images: [image('coredns', 'coredns', 'v1.11.4', n)], archives: [] },
  ];
  return { channel: '1-33', number: n, date, siteBaseUrl: 'https://distro.eks.amazonaws.com/', buildRepoCommit: 'ad17bb9c2b29c32d0173006f949ea012373a86f4', components };
}

test('a realistic release is valid against the CRD schema, named, and sorted', (t) => {
  const release = buildRelease(input());
  t.deepEqual(validateRelease(release), []);
  t.is(release.apiVersion, 'distro.eks.amazonaws.com/v1alpha1');
  t.is(release.kind, 'Release');
  t.deepEqual(release.metadata, { name: 'kubernetes-1-33-eks-5', creationTimestamp: null });
  t.deepEqual(release.spec, { channel: '1-33', number: 5, buildRepoCommit: 'ad17bb9c2b29c32d0173006f949ea012373a86f4' });
  const names = release.status.components.map((c) => c.name);
  t.deepEqual(names, ['cni-plugins', 'coredns', 'etcd', 'kubernetes', 'metrics-server']);
  for (const c of release.status.components) {
    const assetNames = c.assets.map((a) => a.name);
    t.deepEqual(assetNames, [...assetNames].sort(), `assets of ${c.name} sorted`);
  }
  const k8s = release.status.components.find((c) => c.name === 'kubernetes')!;
  t.is(k8s.gitCommit, 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
  t.deepEqual(k8s.assets.map((a) => a.name), [
    'bin/linux/amd64/kubelet', 'bin/linux/arm64/kubelet', 'bin/windows/amd64/kubectl.exe',
    'kube-apiserver-image', 'kube-scheduler-image', 'kubernetes-src.tar.gz', 'pause-image',
  ]);
  const api = k8s.assets.find((a) => a.name === 'kube-apiserver-image')!;
  t.deepEqual(api, {
    name: 'kube-apiserver-image', type: 'Image', os: 'linux', arch: ['amd64', 'arm64'],
    description: 'kube-apiserver container image',
    image: { uri: `${REG}/kubernetes/kube-apiserver:v1.33.5-eks-1-33-5`, imageDigest: `sha256:${sha('sha256', 'kube-apiserverv1.33.5')}` },
  });
  const kubelet = k8s.assets.find((a) => a.name === 'bin/linux/arm64/kubelet')!;
  t.deepEqual(kubelet.archive, {
    uri: 'https://distro.eks.amazonaws.com/kubernetes-1-33/releases/5/artifacts/kubernetes/v1.33.5/bin/linux/arm64/kubelet',
    sha256: sha('sha256', 'bin/linux/arm64/kubelet'), sha512: sha('sha512', 'bin/linux/arm64/kubelet'),
  });
  const src = k8s.assets.find((a) => a.name === 'kubernetes-src.tar.gz')!;
  t.false('os' in src);
  t.false('arch' in src, 'empty arch is omitted like Go omitempty');
  const cni = release.status.components.find((c) => c.name === 'cni-plugins')!;
  t.regex(cni.assets[0]!.archive!.uri, /\/artifacts\/plugins\/v1\.6\.2\/cni-plugins-linux-amd64-v1\.6\.2\.tar\.gz$/);
});

test('rendered YAML has sorted keys at every level, in Kubernetes style', (t) => {
  const text = renderRelease(buildRelease(input()));
  t.true(text.startsWith('apiVersion: distro.eks.amazonaws.com/v1alpha1\nkind: Release\nmetadata:\n  creationTimestamp: null\n  name: kubernetes-1-33-eks-5\nspec:\n'));
  t.true(text.includes('status:\n  components:\n  - assets:\n    - arch:\n      - amd64\n'));
  t.true(text.includes('  date: "2025-06-01T12:00:00Z"\n'), 'timestamps are quoted so YAML 1.1 readers keep a string');
  const checkSorted = (v: unknown, path: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => checkSorted(x, `${path}[${i}]`));
    else if (v && typeof v === 'object') {
      const keys = Object.keys(v);
      t.deepEqual(keys, [...keys].sort(), `keys sorted at ${path}`);
      for (const k of keys) checkSorted((v as Record<string, unknown>)[k], `${path}.${k}`);
    }
  };
  checkSorted(parse(text), '');
});

test('same input renders byte-identical; only the date changes status.date', (t) => {
  const a = renderRelease(buildRelease(input()));
  const b = renderRelease(buildRelease(input()));
  t.is(a, b);
  const shuffled = input();
  shuffled.components.reverse();
  for (const c of shuffled.components) { c.images.reverse(); c.archives.reverse(); }
  t.is(renderRelease(buildRelease(shuffled)), a, 'input order does not matter');

  const c = renderRelease(buildRelease(input(5, '2025-07-02T08:30:00Z')));
  const diff = a.split('\n').map((line, i) => [line, c.split('\n')[i]] as const).filter(([x, y]) => x !== y);
  t.deepEqual(diff, [['  date: "2025-06-01T12:00:00Z"', '  date: "2025-07-02T08:30:00Z"']]);
  t.true(sameReleaseContent(buildRelease(input()), buildRelease(input(5, '2025-07-02T08:30:00Z'))));
  t.false(sameReleaseContent(buildRelease(input(5)), buildRelease(input(6))));
});

test('parseRelease reads back what renderRelease wrote', (t) => {
  const release = buildRelease(input());
  const back = parseRelease(renderRelease(release), 'mem.yaml', { strict: true });
  t.deepEqual(back, release);
});

test('the upstream example manifest round-trips byte for byte', (t) => {
  const example = [
    'apiVersion: distro.eks.amazonaws.com/v1alpha1', 'kind: Release', 'metadata:', '  creationTimestamp: null',
    '  name: kubernetes-1-18-eks-1', 'spec:', '  buildRepoCommit: ad17bb9c2b29c32d0173006f949ea012373a86f4',
    '  channel: 1-18', '  number: 1', 'status:', '  components:', '  - assets:', '    - arch:', '      - amd64',
    '      - arm64', '      description: etcd container image', '      image:',
    '        uri: public.ecr.aws/eks-distro/etcd-io/etcd:v3.4.14-eks-1-18-1', '      name: etcd-image', '      os: linux',
    '      type: Image', '    gitTag: v3.4.14', '    name: etcd', '  date: "2020-12-01T00:05:35Z"', '',
  ].join('\n');
  const r = parseRelease(example, 'example.yaml');
  t.is(renderRelease(r), example);
  t.true(validateRelease(r, { strict: false }).length === 0);
  t.true(validateRelease(r).some((i) => i.path === 'status.components[0].assets[0].image.imageDigest'), 'strict mode wants digests');
});

test('parseRelease names file and line for bad YAML and for the wrong kind', (t) => {
  const bad = t.throws(() => parseRelease('kind: Release\nspec: [\n', 'bad.yaml'));
  t.true(isEksdError(bad, 'RELEASE_PARSE'));
  t.regex((bad as { where?: string }).where ?? '', /^bad\.yaml:\d+:\d+$/);

  const kind = t.throws(() => parseRelease('apiVersion: distro.eks.amazonaws.com/v1alpha1\nkind: ReleaseChannel\n', 'chan.yaml'));
  t.true(isEksdError(kind, 'RELEASE_PARSE'));
  t.is((kind as { where?: string }).where, 'chan.yaml:2:7');
  t.regex(kind!.message, /not a Release/);

  const text = renderRelease(buildRelease(input())).replace('  number: 5', '  number: 0');
  const invalid = t.throws(() => parseRelease(text, 'r.yaml'));
  t.true(isEksdError(invalid, 'RELEASE_INVALID'));
  t.regex(invalid!.message, /spec\.number: must be >= 1 .*\(r\.yaml:\d+:11\)/);
});

test('buildRelease rejects unusable input before producing anything', (t) => {
  const noPlatforms = input();
  noPlatforms.components[0]!.images[0]!.platforms = ['unknown/unknown', 'linux/amd64'];
  const e1 = t.throws(() => buildRelease(noPlatforms));
  t.true(isEksdError(e1, 'RELEASE_INPUT'));
  t.regex((e1 as { where?: string }).where ?? '', /metrics-server.*platforms\[0\]/);

  const traversal = input();
  traversal.components[3]!.archives[0]!.name = '../../etc/passwd';
  t.true(isEksdError(t.throws(() => buildRelease(traversal)), 'RELEASE_INPUT'));

  const noDigest = input();
  noDigest.components[4]!.images[0]!.digest = '';
  const e3 = t.throws(() => buildRelease(noDigest));
  t.true(isEksdError(e3, 'RELEASE_INVALID'));
  t.regex(e3!.message, /status\.components\[1\]\.assets\[0\]\.image\.imageDigest/);

  t.true(isEksdError(t.throws(() => buildRelease({ ...input(), channel: '1.33' })), 'RELEASE_INPUT'));
  t.true(isEksdError(t.throws(() => buildRelease({ ...input(), date: '2025-13-01T00:00:00Z' })), 'RELEASE_INPUT'));
});
