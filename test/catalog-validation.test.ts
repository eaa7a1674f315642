/**
 * Bad input is rejected before any side effect, and every message names the file, the line (and column)
 * and the field path, and says what is expected.
 */
import test from 'ava';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadCatalog } from '../pipeline/catalog/load.ts';
import { EksdError } from '../pipeline/errors.ts';
import { REPO_ROOT } from './helpers/project.ts';

function project(): string {
  const root = mkdtempSync(join(tmpdir(), 'eksd-catalog-'));
  cpSync(join(REPO_ROOT, 'base'), join(root, 'base'), { recursive: true });
  cpSync(join(REPO_ROOT, 'images'), join(root, 'images'), { recursive: true });
  return root;
}

function load(root: string) {
  return loadCatalog({ root, imageRepo: '127.0.0.1:5000/eks-distro', baseImageRepo: '127.0.0.1:5000/tooling', basePin: join(root, 'pin.yaml'),
    platforms: ['linux/amd64', 'linux/arm64'], channel: '1-33' });
}

/** Edits a catalog file, returns the 1-based line number of the first line containing `marker` after the edit. */
function edit(root: string, file: string, change: (text: string) => string, marker: string | RegExp): number {
  const path = join(root, file);
  const text = change(readFileSync(path, 'utf8'));
  writeFileSync(path, text);
  const line = text.split('\n').findIndex((l) => (typeof marker === 'string' ? l.includes(marker) : marker.test(l)));
  if (line < 0) throw new Error(`marker ${marker} not found in ${file}`);
  return line + 1;
}

function rejects(t: import('ava').ExecutionContext, root: string, file: string, line: number, field: string, expected: RegExp): void {
  const error = t.throws(() => load(root), { instanceOf: EksdError });
  const shown = relative(process.cwd(), join(root, file));
  t.true(error!.message.includes(`${shown}:${line}:`), `message names ${shown}:${line}:\n${error!.message}`);
  t.true(error!.message.includes(field), `message names field ${field}:\n${error!.message}`);
  t.regex(error!.message, expected);
  t.is(error!.code, 'CATALOG_INVALID');
}

const ETCD = 'images/etcd/component.yaml';
const GO_RUNNER = 'images/go-runner/component.yaml';

test('the shipped catalog is valid: at least 18 images across 12 components, both platforms, each with a base or parent', (t) => {
  const root = project();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const catalog = load(root);
  const images = catalog.images.filter((i) => i.kind === 'image');
  t.true(images.length >= 18);
  t.true(catalog.components.length >= 12);
  for (const i of catalog.images) {
    t.deepEqual(i.platforms, ['linux/amd64', 'linux/arm64']);
    t.truthy(i.from);
  }
  t.is(catalog.images.find((i) => i.name === 'kube-apiserver')!.from, 'go-runner');
  t.is(catalog.images.find((i) => i.name === 'kube-proxy')!.from, 'kube-proxy-base');
  const order = catalog.images.map((i) => i.name);
  t.true(order.indexOf('go-runner') < order.indexOf('kube-apiserver'));
  t.true(order.indexOf('kube-proxy-base') < order.indexOf('kube-proxy'));
});

const cases: Array<{ title: string; file: string; change: (s: string) => string; marker: string | RegExp; field: string; expected: RegExp }> = [
  { title: 'YAML syntax error', file: ETCD, change: (s) => s.replace('project: etcd-io/etcd', 'project: etcd-io/etcd: v3'), marker: 'project: etcd-io/etcd: v3', field: ETCD.split('/')[1]!, expected: /Nested mappings are not allowed/ },
  { title: 'unknown top-level key', file: ETCD, change: (s) => s.replace('project: etcd-io/etcd', 'project: etcd-io/etcd\ngitTag: v3.5.21'), marker: 'gitTag: v3.5.21', field: 'gitTag', expected: /unknown key 'gitTag'; expected one of name, project, channels, versions, images/ },
  { title: 'unknown version key', file: ETCD, change: (s) => s.replace('    gitTag: v3.5.21', '    gitTag: v3.5.21\n    gittag: v3'), marker: 'gittag:', field: 'versions[0].gittag', expected: /unknown key 'gittag'.*expected one of .*gitTag/ },
  { title: 'unknown image key', file: ETCD, change: (s) => s.replace('    from: eks-distro-minimal-base', '    from: eks-distro-minimal-base\n    dockerFile: Dockerfile'), marker: 'dockerFile:', field: 'images[0].dockerFile', expected: /unknown key 'dockerFile'/ },
  { title: 'wrong type: number for a string', file: ETCD, change: (s) => s.replace('gitTag: v3.5.21', 'gitTag: 3.5'), marker: 'gitTag: 3.5', field: 'versions[0].gitTag', expected: /expected string, found number 3\.5/ },
  { title: 'wrong type: string for a list', file: ETCD, change: (s) => s.replace('    stages: [etcd]', '    stages: etcd'), marker: 'stages: etcd', field: 'images[0].stages', expected: /expected array/ },
  { title: 'missing required field', file: ETCD, change: (s) => s.replace('    repository: etcd-io/etcd\n', ''), marker: /^ {2}- name: etcd$/, field: 'images[0]', expected: /missing required field 'repository'/ },
  { title: 'archive without sha512', file: ETCD, change: (s) => s.replace(/\n +sha512: [0-9a-f]+/, ''), marker: '- name: etcd-linux-amd64', field: 'versions[0].artifacts[0]', expected: /missing required field 'sha512'/ },
  { title: 'malformed sha256', file: ETCD, change: (s) => s.replace(/sha256: [0-9a-f]{64}/, 'sha256: abc123'), marker: 'sha256: abc123', field: 'versions[0].artifacts[0].sha256', expected: /does not match/ },
  { title: 'unknown base image', file: ETCD, change: (s) => s.replace('from: eks-distro-minimal-base', 'from: eks-distro-minimal-bas'), marker: 'from: eks-distro-minimal-bas', field: 'images[0].from', expected: /unknown base or image 'eks-distro-minimal-bas'; expected one of/ },
  { title: 'unknown builder image', file: ETCD, change: (s) => s.replace('    from: eks-distro-minimal-base', '    from: eks-distro-minimal-base\n    builder: golang-builder'), marker: 'builder: golang-builder', field: 'images[0].builder', expected: /unknown base or image 'golang-builder'/ },
  { title: 'dependency cycle', file: GO_RUNNER, change: (s) => s.replace('from: eks-distro-minimal-base', 'from: kube-apiserver'), marker: 'from: kube-apiserver', field: 'images[0].from', expected: /dependency cycle .*go-runner.*kube-apiserver/ },
  { title: 'missing Dockerfile', file: ETCD, change: (s) => s.replace('    stages: [etcd]', '    stages: [etcd]\n    dockerfile: docker/Dockerfile.missing'), marker: 'dockerfile: docker/Dockerfile.missing', field: 'images[0].dockerfile', expected: /Dockerfile not found/ },
  { title: 'unsupported platform', file: ETCD, change: (s) => s.replace('    stages: [etcd]', '    stages: [etcd]\n    platforms: [linux/amd64, linux/s390x]'), marker: 'platforms: [linux/amd64, linux/s390x]', field: 'images[0].platforms[1]', expected: /"linux\/s390x" is not allowed; expected one of linux\/amd64, linux\/arm64/ },
  { title: 'illegal repository name', file: ETCD, change: (s) => s.replace('repository: etcd-io/etcd', 'repository: Etcd-IO/etcd'), marker: 'repository: Etcd-IO/etcd', field: 'images[0].repository', expected: /does not match/ },
  { title: "illegal tag: '+' is rejected by ECR", file: ETCD, change: (s) => s.replace('gitTag: v3.5.21', 'gitTag: v3.5.21+eks'), marker: 'gitTag: v3.5.21+eks', field: 'versions[0].gitTag', expected: /does not match/ },
  { title: 'duplicate image name', file: GO_RUNNER, change: (s) => s.replace('  - name: go-runner', '  - name: etcd'), marker: '  - name: etcd', field: 'images[0].name', expected: /duplicate image name 'etcd'/ },
  { title: 'duplicate repository', file: GO_RUNNER, change: (s) => s.replace('repository: kubernetes/go-runner', 'repository: etcd-io/etcd'), marker: 'repository: etcd-io/etcd', field: 'images[0].repository', expected: /duplicate repository 'etcd-io\/etcd'/ },
  { title: 'stage without an artifact for a platform', file: ETCD, change: (s) => s.replace('stages: [etcd]', 'stages: [etcdctl]'), marker: 'stages: [etcdctl]', field: 'images[0].stages[0]', expected: /no artifact with stage 'etcdctl' for linux\/amd64/ },
  { title: 'name does not match its folder', file: ETCD, change: (s) => s.replace('name: etcd\n', 'name: etcd-io\n'), marker: 'name: etcd-io', field: 'name', expected: /must match its folder 'etcd'/ },
  { title: 'base built from a component image', file: 'base/bases.yaml', change: (s) => s.replace('builder: eks-distro-base\n  - name: eks-distro-minimal-base-glibc', 'builder: go-runner\n  - name: eks-distro-minimal-base-glibc'), marker: 'builder: go-runner', field: 'bases[2].builder', expected: /a base cannot be built from the component image 'go-runner'/ },
  { title: 'component image built FROM upstream', file: ETCD, change: (s) => s.replace('from: eks-distro-minimal-base', 'from: upstream'), marker: 'from: upstream', field: 'images[0].from', expected: /only base images may be built FROM upstream/ },
];

for (const c of cases) {
  test(`rejects: ${c.title}`, (t) => {
    const root = project();
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    const line = edit(root, c.file, c.change, c.marker);
    rejects(t, root, c.file, line, c.field, c.expected);
  });
}

test('every problem in every file is reported in one run', (t) => {
  const root = project();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  edit(root, ETCD, (s) => s.replace('gitTag: v3.5.21', 'gitTag: 3'), 'gitTag: 3');
  edit(root, GO_RUNNER, (s) => s.replace('from: eks-distro-minimal-base', 'from: nowhere'), 'from: nowhere');
  const error = t.throws(() => load(root), { instanceOf: EksdError });
  t.regex(error!.message, /2 problem\(s\)/);
  t.regex(error!.message, /etcd\/component\.yaml:\d+:\d+ versions\[0\]\.gitTag/);
  t.regex(error!.message, /go-runner\/component\.yaml:\d+:\d+ images\[0\]\.from/);
});

test('a component folder without component.yaml is reported', (t) => {
  const root = project();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  unlinkSync(join(root, 'images', 'coredns', 'component.yaml'));
  const error = t.throws(() => load(root), { instanceOf: EksdError });
  t.regex(error!.message, /images\/coredns: component folder has no component.yaml/);
});

const pathCases: typeof cases = [
  { title: "artifact name with '..'", file: ETCD, change: (s) => s.replace('name: etcd-linux-amd64-v3.5.21.tar.gz', 'name: ../etcd.tar.gz'), marker: 'name: ../etcd.tar.gz', field: 'versions[0].artifacts[0].name', expected: /artifact name '\.\.\/etcd\.tar\.gz' must be a relative path/ },
  { title: "project with a '..' segment", file: ETCD, change: (s) => s.replace('project: etcd-io/etcd', 'project: etcd-io/..'), marker: 'project: etcd-io/..', field: 'project', expected: /has the segment '\.\.'/ },
  { title: 'Dockerfile outside the component folder', file: ETCD, change: (s) => s.replace('    stages: [etcd]', '    stages: [etcd]\n    dockerfile: ../go-runner/Dockerfile'), marker: 'dockerfile: ../go-runner/Dockerfile', field: 'images[0].dockerfile', expected: /resolves outside \S*images\/etcd \(to \S*images\/go-runner\/Dockerfile\)/ },
  { title: 'absolute Dockerfile path', file: ETCD, change: (s) => s.replace('    stages: [etcd]', '    stages: [etcd]\n    dockerfile: /etc/hostname'), marker: 'dockerfile: /etc/hostname', field: 'images[0].dockerfile', expected: /is an absolute path/ },
  { title: 'base Dockerfile outside base/', file: 'base/bases.yaml', change: (s) => s.replace('    from: upstream\n', '    from: upstream\n    dockerfile: ../images/etcd/Dockerfile\n'), marker: 'dockerfile: ../images/etcd/Dockerfile', field: 'bases[0].dockerfile', expected: /resolves outside \S*base \(to \S*images\/etcd\/Dockerfile\)/ },
  { title: 'extra tag shaped like a versioned tag', file: ETCD, change: (s) => s.replace('    stages: [etcd]', '    stages: [etcd]\n    extraTags: [v3.5.21-eks-1-33-3]'), marker: 'extraTags:', field: 'images[0].extraTags[0]', expected: /has the shape of a tag the engine moves/ },
  { title: 'extra tag shaped like a floating tag', file: ETCD, change: (s) => s.replace('    stages: [etcd]', '    stages: [etcd]\n    extraTags: [v3.5.21-eks-1-33-latest]'), marker: 'extraTags:', field: 'images[0].extraTags[0]', expected: /has the shape of a tag the engine moves/ },
];

for (const c of pathCases) {
  test(`rejects at load: ${c.title}`, (t) => {
    const root = project();
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    const line = edit(root, c.file, c.change, c.marker);
    rejects(t, root, c.file, line, c.field, c.expected);
  });
}
