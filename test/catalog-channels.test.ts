/**
 * Release channels in the catalog: images/channels.yaml, per-channel versions written once when shared,
 * one channel's catalog at a time, and every channel validation error with file:line and field.
 */
import test, { type ExecutionContext } from 'ava';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadCatalog, loadChannels, type CatalogConfig } from '../pipeline/catalog/load.ts';
import { allArtifacts, imageByName, type Catalog } from '../pipeline/catalog/model.ts';
import { EksdError } from '../pipeline/errors.ts';
import { checksums, standinContent } from '../dev/env/standin-artifacts.ts';
import { runCli } from './helpers/cli.ts';
import { REPO_ROOT } from './helpers/project.ts';

const CHANNELS = ['1-30', '1-31', '1-32', '1-33', '1-34', '1-35', '1-36'];
const CHANNELS_FILE = 'images/channels.yaml';
const ETCD = 'images/etcd/component.yaml';
const KUBERNETES = 'images/kubernetes/component.yaml';
const GO_RUNNER = 'images/go-runner/component.yaml';

function config(root: string): CatalogConfig {
  return { root, imageRepo: '127.0.0.1:5000/eks-distro', baseImageRepo: '127.0.0.1:5000/tooling', basePin: join(root, 'pin.yaml'),
    platforms: ['linux/amd64', 'linux/arm64'], channel: '1-33' };
}

function project(t: ExecutionContext): string {
  const root = mkdtempSync(join(tmpdir(), 'eksd-channels-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  cpSync(join(REPO_ROOT, 'base'), join(root, 'base'), { recursive: true });
  cpSync(join(REPO_ROOT, 'images'), join(root, 'images'), { recursive: true });
  return root;
}

/** Edits a catalog file; returns the 1-based line of the first line matching `marker` after the edit. */
function edit(root: string, file: string, change: (text: string) => string, marker: string): number {
  const text = change(readFileSync(join(root, file), 'utf8'));
  writeFileSync(join(root, file), text);
  const line = text.split('\n').findIndex((l) => l.includes(marker));
  if (line < 0) throw new Error(`marker ${marker} not found in ${file}`);
  return line + 1;
}

function replaced(from: string, to: string): (text: string) => string {
  return (text) => {
    if (!text.includes(from)) throw new Error(`'${from}' not in the file`);
    return text.replace(from, to);
  };
}

function catalogError(t: ExecutionContext, load: () => unknown): EksdError {
  const error = t.throws(load, { instanceOf: EksdError })!;
  t.is(error.code, 'CATALOG_INVALID');
  return error;
}

function names(root: string, file: string, line: number, field: string, message: string): RegExp {
  const shown = relative(process.cwd(), join(root, file)).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`${shown}:${line}:\\d+ ${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${message}`);
}

const versionOf = (catalog: Catalog, component: string) => catalog.components.find((c) => c.name === component)?.gitTag;

test('the shipped channels file lists upstream\'s seven channels, all active, in order', (t) => {
  const channels = loadChannels({ root: REPO_ROOT });
  t.deepEqual(channels.map((c) => c.name), CHANNELS);
  t.true(channels.every((c) => c.active && c.retired === undefined));
  t.regex(channels[0]!.where, /^images\/channels\.yaml:\d+:\d+ channels\[0\]$/);
});

test('each channel loads with its own versions; shared versions are the same specs; bases are the same everywhere', (t) => {
  const root = project(t);
  const byChannel = new Map(CHANNELS.map((ch) => [ch, loadCatalog(config(root), ch)]));
  const expected: Record<string, Record<string, string>> = {
    kubernetes: { '1-30': 'v1.30.14', '1-31': 'v1.31.14', '1-32': 'v1.32.13', '1-33': 'v1.33.13', '1-34': 'v1.34.9', '1-35': 'v1.35.6', '1-36': 'v1.36.2' },
    etcd: { '1-30': 'v3.5.21', '1-33': 'v3.5.21', '1-35': 'v3.5.21', '1-36': 'v3.6.12' },
    coredns: { '1-30': 'v1.12.4', '1-32': 'v1.12.4', '1-33': 'v1.14.3', '1-36': 'v1.14.3' },
  };
  for (const [component, versions] of Object.entries(expected)) {
    for (const [ch, version] of Object.entries(versions)) t.is(versionOf(byChannel.get(ch)!, component), version, `${component} in ${ch}`);
  }
  for (const catalog of byChannel.values()) {
    for (const component of ['cni-plugins', 'aws-iam-authenticator', 'go-runner', 'kube-proxy-base']) {
      t.is(versionOf(catalog, component), versionOf(byChannel.get('1-33')!, component));
    }
    t.deepEqual(catalog.images.filter((i) => i.kind === 'base'), byChannel.get('1-33')!.images.filter((i) => i.kind === 'base'));
    for (const image of catalog.images.filter((i) => i.kind === 'image')) {
      t.is(image.gitTag, versionOf(catalog, image.component)!, image.name);
    }
    for (const a of allArtifacts(catalog)) t.is(a.gitTag, versionOf(catalog, a.component)!);
  }
  const etcd = (ch: string) => imageByName(byChannel.get(ch)!, 'etcd');
  t.deepEqual(etcd('1-30'), etcd('1-33'), 'one version shared by two channels gives one spec');
  t.deepEqual(etcd('1-36').buildArgs, { ETCD_VERSION: 'v3.6.12' }, '{gitTag} in a build argument is the channel\'s version');
  t.deepEqual(byChannel.get('1-30')!.components.find((c) => c.name === 'etcd')!.artifacts, byChannel.get('1-35')!.components.find((c) => c.name === 'etcd')!.artifacts);
});

test('the default channel is config.channel; the image order puts parents first in every channel', (t) => {
  const root = project(t);
  t.is(versionOf(loadCatalog(config(root)), 'kubernetes'), 'v1.33.13');
  t.is(versionOf(loadCatalog({ ...config(root), channel: '1-31' }), 'kubernetes'), 'v1.31.14');
  for (const ch of CHANNELS) {
    const order = loadCatalog(config(root), ch).images.map((i) => i.name);
    t.true(order.indexOf('go-runner') < order.indexOf('kube-apiserver'), ch);
    t.true(order.indexOf('kube-proxy-base') < order.indexOf('kube-proxy'), ch);
  }
});

test('each floating pause tag belongs to one channel', (t) => {
  const root = project(t);
  const pause = (ch: string) => imageByName(loadCatalog(config(root), ch), 'pause').extraTags;
  t.deepEqual(CHANNELS.map(pause), [['3.9'], [], [], ['3.10'], [], ['3.10.1'], ['3.10.2']]);
});

test('the stand-in artifacts of every channel match the checksums pinned in the catalog', async (t) => {
  const root = project(t);
  const seen = new Set<string>();
  for (const ch of CHANNELS) {
    for (const a of allArtifacts(loadCatalog(config(root), ch))) {
      const key = `${a.project}/${a.gitTag}/${a.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      t.deepEqual(checksums(await standinContent(a)), { sha256: a.sha256, sha512: a.sha512 }, `${key} (${a.where})`);
    }
  }
  t.true(seen.size > 100, `${seen.size} distinct artifacts`);
});

test('a retired channel loads, with its date; it needs no version of a component', (t) => {
  const root = project(t);
  edit(root, CHANNELS_FILE, replaced('  - name: 1-30\n    active: true', '  - name: 1-29\n    active: false\n    retired: 2026-06-01\n  - name: 1-30\n    active: true'), '1-29');
  edit(root, ETCD, replaced('channels: [1-30, 1-31', 'channels: [1-29, 1-30, 1-31'), '1-29');
  const channels = loadChannels(config(root));
  t.like(channels[0], { name: '1-29', active: false, retired: '2026-06-01' });
  const retired = loadCatalog(config(root), '1-29');
  t.deepEqual(retired.components.map((c) => c.name), ['etcd']);
  t.is(versionOf(retired, 'etcd'), 'v3.5.21');
});

test('a component may exist in some channels only', (t) => {
  const root = project(t);
  edit(root, 'images/metrics-server/component.yaml', (s) => s.replace('project: kubernetes-sigs/metrics-server\n', 'project: kubernetes-sigs/metrics-server\nchannels: [1-30, 1-31]\n').replace(/channels: \[1-30, 1-31, 1-32[^\]]*\]/, 'channels: [1-30, 1-31]'), 'channels: [1-30, 1-31]');
  t.truthy(versionOf(loadCatalog(config(root), '1-31'), 'metrics-server'));
  const without = loadCatalog(config(root), '1-32');
  t.is(versionOf(without, 'metrics-server'), undefined);
  t.false(without.images.some((i) => i.name === 'metrics-server'));
});

test('an unknown channel is an error naming the channels file and what it lists', (t) => {
  const root = project(t);
  const error = catalogError(t, () => loadCatalog(config(root), '1-29'));
  t.regex(error.message, /channel 1-29 is not in \S*images\/channels\.yaml \(it lists 1-30, 1-31, 1-32, 1-33, 1-34, 1-35, 1-36\)/);
  t.regex(error.where!, /images\/channels\.yaml$/);
  t.regex(error.hint!, /--channel/);
});

test('a missing channels file is reported', (t) => {
  const root = project(t);
  unlinkSync(join(root, CHANNELS_FILE));
  t.regex(catalogError(t, () => loadCatalog(config(root))).message, /images\/channels\.yaml: file not found; it lists the supported release channels/);
  t.regex(catalogError(t, () => loadChannels(config(root))).message, /images\/channels\.yaml: file not found/);
});

interface Case { title: string; file: string; change: (s: string) => string; marker: string; field: string; message: string }

const cases: Case[] = [
  {
    title: 'a channel listed twice', file: CHANNELS_FILE, change: (s) => `${s}  - name: 1-33 # again\n    active: true\n`,
    marker: '# again', field: 'channels[7].name', message: 'channel 1-33 is listed twice \\(also at \\S+images/channels\\.yaml:14:\\d+ channels\\[3\\]\\.name\\); keep one entry',
  },
  {
    title: 'a malformed channel name', file: CHANNELS_FILE, change: replaced('name: 1-36', 'name: "1.36"'), marker: '"1.36"',
    field: 'channels[6].name', message: '"1\\.36" does not match .*the Kubernetes major-minor with a dash and no leading zeros, e\\.g\\. 1-33',
  },
  {
    title: 'a retired channel without its date', file: CHANNELS_FILE, change: replaced('  - name: 1-30\n    active: true', '  - name: 1-30\n    active: false # no date'), marker: '# no date',
    field: 'channels[0].active', message: 'channel 1-30 is retired \\(active: false\\) but has no date; add retired: <YYYY-MM-DD>',
  },
  {
    title: 'an active channel with a retirement date', file: CHANNELS_FILE, change: replaced('  - name: 1-30\n    active: true', '  - name: 1-30\n    active: true\n    retired: 2026-06-01'), marker: 'retired: 2026-06-01',
    field: 'channels[0].retired', message: 'channel 1-30 is active but has retired: 2026-06-01; set active: false to retire it, or remove retired',
  },
  {
    title: 'a component naming an unknown channel', file: ETCD, change: replaced('channels: [1-36]', 'channels: [1-36, 1-37]'), marker: '1-37',
    field: 'versions[1].channels[1]', message: 'unknown channel 1-37; \\S*images/channels\\.yaml lists 1-30, .*1-36; add it there or fix the name',
  },
  {
    title: 'a component\'s channels naming an unknown channel', file: ETCD, change: replaced('project: etcd-io/etcd\n', 'project: etcd-io/etcd\nchannels: [1-30, 1-31, 1-32, 1-33, 1-34, 1-35, 1-36, 1-37]\n'), marker: '1-37',
    field: 'channels[7]', message: 'unknown channel 1-37',
  },
  {
    title: 'a malformed channel name in a component', file: ETCD, change: replaced('channels: [1-36]', 'channels: ["1.36"]'), marker: '"1.36"',
    field: 'versions[1].channels[0]', message: '"1\\.36" does not match',
  },
  {
    title: 'an active channel without a version of a component', file: ETCD, change: replaced('channels: [1-36]', 'channels: [1-30]'), marker: 'versions:',
    field: 'versions', message: 'active channel 1-36 has no version of etcd; add 1-36 to the channels of the versions entry it ships',
  },
  {
    title: 'two entries giving a component two versions in one channel', file: ETCD, change: replaced('channels: [1-36]', 'channels: [1-35, 1-36]'), marker: 'channels: [1-35, 1-36]',
    field: 'versions[1].channels[0]', message: 'channel 1-35 gets two versions of etcd: v3\\.5\\.21 \\(versions\\[0\\]\\) and v3\\.6\\.12 \\(versions\\[1\\]\\); a channel ships one version of a component, so remove 1-35 from one of the two entries',
  },
  {
    title: 'one version written twice', file: ETCD, change: replaced('gitTag: v3.6.12', 'gitTag: v3.5.21 # again'), marker: '# again',
    field: 'versions[1].gitTag', message: 'version v3\\.5\\.21 of etcd is written twice \\(also versions\\[0\\]\\); list all its channels in one entry',
  },
  {
    title: 'a version in a channel the component does not exist in', file: GO_RUNNER, change: replaced('project: kubernetes/release\n', 'project: kubernetes/release\nchannels: [1-30]\n'), marker: 'channels: [1-30, 1-31',
    field: 'versions[0].channels[1]', message: 'channel 1-31 is not one of go-runner\'s channels',
  },
  {
    title: 'extra tags for an image the component does not have', file: KUBERNETES, change: replaced('      pause: ["3.9"]', '      pauze: ["3.9"]'), marker: 'pauze',
    field: 'versions[0].extraTags.pauze', message: 'kubernetes has no image \'pauze\'; extraTags are keyed by the names under images',
  },
  {
    title: 'an unknown placeholder in a build argument', file: ETCD, change: replaced('ETCD_VERSION: "{gitTag}"', 'ETCD_VERSION: "{version}"'), marker: '{version}',
    field: 'images[0].buildArgs.ETCD_VERSION', message: 'unknown placeholder \'\\{version\\}\' in build argument ETCD_VERSION; only \\{gitTag\\}',
  },
];

for (const c of cases) {
  test(`rejects: ${c.title}`, (t) => {
    const root = project(t);
    const line = edit(root, c.file, c.change, c.marker);
    const error = catalogError(t, () => loadCatalog(config(root)));
    t.regex(error.message, names(root, c.file, line, c.field, c.message));
    t.regex(error.hint!, /README "Catalog format"/);
  });
}

test('rejects: an image whose parent does not exist in one of its channels', (t) => {
  const root = project(t);
  const without36 = 'channels: [1-30, 1-31, 1-32, 1-33, 1-34, 1-35]';
  edit(root, GO_RUNNER, (s) => s.replace('project: kubernetes/release\n', `project: kubernetes/release\n${without36}\n`).replace(/channels: \[1-30, [^\]]*1-36\]/, without36), without36);
  const file = readFileSync(join(root, KUBERNETES), 'utf8').split('\n');
  const fromLine = file.findIndex((l) => l.includes('from: go-runner')) + 1;
  const error = catalogError(t, () => loadCatalog(config(root)));
  t.regex(error.message, names(root, KUBERNETES, fromLine, 'images[0].from', 'kube-apiserver exists in channel 1-36 but its from \'go-runner\' does not; add 1-36 to the channels of go-runner\'s component, or leave 1-36 out of kubernetes\'s'));
});

test('rejects: one floating extra tag claimed by two channels, naming both places and the fix', (t) => {
  const root = project(t);
  const first = edit(root, KUBERNETES, replaced('    gitTag: v1.31.14\n', '    gitTag: v1.31.14\n    extraTags:\n      pause: ["3.10"]\n'), 'pause: ["3.10"]');
  const second = readFileSync(join(root, KUBERNETES), 'utf8').split('\n').findIndex((l, i) => i + 1 > first && l.includes('pause: ["3.10"]')) + 1;
  const error = catalogError(t, () => loadCatalog(config(root)));
  const at = (line: number, i: number) => `${relative(process.cwd(), join(root, KUBERNETES))}:${line}:\\d+ versions\\[${i}\\]\\.extraTags\\.pause\\[0\\]`;
  t.regex(error.message, new RegExp(`${at(first, 1)}: extra tag '3\\.10' of kubernetes/pause is claimed by more than one channel: 1-31 at ${at(first, 1)}; 1-33 at ${at(second, 3)}\\. A floating tag points at one digest, so it would flip between those channels' images`));
  t.regex(error.message, /keep it in one channel: put it under the extraTags of a versions entry that lists only that channel/);
});

test('rejects: an image-level extra tag in a component shipped by several active channels', (t) => {
  const root = project(t);
  const line = edit(root, GO_RUNNER, replaced('    stages: [go-runner]\n', '    stages: [go-runner]\n    extraTags: [stable]\n'), 'extraTags: [stable]');
  const error = catalogError(t, () => loadCatalog(config(root)));
  t.regex(error.message, names(root, GO_RUNNER, line, 'images[0].extraTags[0]', "extra tag 'stable' of kubernetes/go-runner is claimed by more than one channel: 1-30, 1-31, 1-32, 1-33, 1-34, 1-35, 1-36 at "));
});

test('a floating tag claimed by a retired channel and an active one is allowed: only active channels move tags', (t) => {
  const root = project(t);
  edit(root, CHANNELS_FILE, replaced('  - name: 1-31\n    active: true', '  - name: 1-31\n    active: false\n    retired: 2026-06-01'), 'retired');
  edit(root, KUBERNETES, replaced('    gitTag: v1.31.14\n', '    gitTag: v1.31.14\n    extraTags:\n      pause: ["3.10"]\n'), 'pause: ["3.10"]');
  t.deepEqual(imageByName(loadCatalog(config(root), '1-31'), 'pause').extraTags, ['3.10']);
  t.deepEqual(imageByName(loadCatalog(config(root), '1-33'), 'pause').extraTags, ['3.10']);
});

test('every channel problem of every file is reported in one run', (t) => {
  const root = project(t);
  edit(root, CHANNELS_FILE, (s) => `${s}  - name: 1-33\n    active: true\n`, 'channels:');
  edit(root, ETCD, replaced('channels: [1-36]', 'channels: [1-35, 1-36]'), '1-35, 1-36');
  const error = catalogError(t, () => loadCatalog(config(root)));
  t.regex(error.message, /2 problem\(s\)/);
  t.regex(error.message, /channels\.yaml:\d+:\d+ channels\[7\]\.name: channel 1-33 is listed twice/);
  t.regex(error.message, /etcd\/component\.yaml:\d+:\d+ versions\[1\]\.channels\[0\]: channel 1-35 gets two versions of etcd/);
});


test('eksd catalog shows every channel and the version of each component in each; --channel one channel', async (t) => {
  const all = await runCli(['catalog']);
  t.is(all.code, 0, all.err);
  t.regex(all.out, /^CHANNEL\s+STATE\s+COMPONENTS\s+IMAGES/m);
  t.regex(all.out, /^1-36\s+active\s+14\s+23/m);
  t.regex(all.out, /^COMPONENT\s+1-30\s+1-31\s+1-32\s+1-33\s+1-34\s+1-35\s+1-36$/m);
  t.regex(all.out, /^etcd\s+v3\.5\.21\s+v3\.5\.21\s+v3\.5\.21\s+v3\.5\.21\s+v3\.5\.21\s+v3\.5\.21\s+v3\.6\.12$/m);
  t.regex(all.out, /7 channels \(7 active\), 14 components/);
  const one = await runCli(['catalog', '--channel', '1-30']);
  t.is(one.code, 0, one.err);
  t.regex(one.out, /^kubernetes\s+pause\s+v1\.30\.14\s+kubernetes\/pause\s.*\s3\.9$/m);
  t.regex(one.out, /channel 1-30 \(active\)/);
  const unknown = await runCli(['catalog', '--channel', '1-29']);
  t.is(unknown.code, 2);
  t.regex(unknown.err, /CATALOG_INVALID: channel 1-29 is not in images\/channels\.yaml/);
});

test('eksd catalog --json: every channel with its catalog, or one channel with --channel', async (t) => {
  const all = await runCli(['catalog', '--json']);
  t.is(all.code, 0, all.err);
  const doc = JSON.parse(all.out) as { channels: Array<{ name: string; active: boolean } & Catalog> };
  t.deepEqual(doc.channels.map((c) => c.name), CHANNELS);
  t.is(versionOf(doc.channels[6]!, 'etcd'), 'v3.6.12');
  const one = JSON.parse((await runCli(['catalog', '--channel', '1-32', '--json'])).out) as { channel: string; active: boolean } & Catalog;
  t.like(one, { channel: '1-32', active: true });
  t.is(versionOf(one, 'kubernetes'), 'v1.32.13');
});

test('a channels file that does not match its schema is reported alone, not as an unknown channel in every component', (t) => {
  const root = project(t);
  edit(root, CHANNELS_FILE, replaced('name: 1-36', 'name: "1.36"'), '"1.36"');
  const error = catalogError(t, () => loadCatalog(config(root)));
  t.regex(error.message, /1 problem\(s\)/);
  t.regex(error.message, /channels\.yaml:\d+:\d+ channels\[6\]\.name: "1\.36" does not match/);
});
