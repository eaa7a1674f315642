/**
 * Several channels released together, on the real engine and registry: a three-channel catalog (1-32
 * and 1-33 share etcd v3.5.21; 1-36 has etcd v3.6.12; each has its own Kubernetes). One run releases
 * every channel, builds each build key once, and a re-run with nothing changed releases nothing. A base
 * update releases all three, a version bump in one releases only it; a channel retired is marked
 * inactive and announced once; a new channel starts at 1 and is announced as new; a failure in one
 * channel does not hold the others back; a kill at any point is finished by the next run.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadCatalog } from '../pipeline/catalog/load.ts';
import { forChannel } from '../pipeline/config/config.ts';
import type { RunEvent } from '../pipeline/stages/events.ts';
import { checksums, standinContent } from '../dev/env/standin-artifacts.ts';
import { makeProject, type TestProject } from './helpers/project.ts';
import { outboxFiles, releaseKilledAt, releaseNumbers, runWithEvents } from './helpers/crash.ts';
import { validateRelease } from '../pipeline/release/validate.ts';

interface ChannelJson { channel: string; state: string; number?: number; images?: Array<{ name: string; digest: string; tags: string[] }>; error?: string }

const CHANNELS = ['1-32', '1-33', '1-36'];
let p: TestProject;

test.before(async () => {
  p = await makeProject({ catalog: 'mini', channels: CHANNELS });
  await p.seed();
  const w = await p.eksd(['watch-base', '--write']);
  if (w.code !== 0 && w.code !== 10) throw new Error(w.stderr);
});

test.after.always(async () => { await p?.cleanup(); });

async function releaseAll(t: ExecutionContext, args: string[] = []): Promise<{ channels: ChannelJson[]; events: RunEvent[]; code: number | null; stderr: string }> {
  const r = await runWithEvents(p, ['release', '--json', '--concurrency', '2', ...args]);
  const out = r.stdout ? JSON.parse(r.stdout) as { channels?: ChannelJson[] } & ChannelJson : undefined;
  const channels = out?.channels ?? (out ? [out] : []);
  t.log(channels.map((c) => `${c.channel} ${c.state}${c.number ? ` ${c.number}` : ''}`).join(', '));
  return { channels, events: r.events, code: r.code, stderr: r.stderr };
}

const builds = (events: RunEvent[]) => events.filter((e) => e.type === 'image' && e.state === 'building').length;
const states = (cs: ChannelJson[]) => Object.fromEntries(cs.map((c) => [c.channel, c.state]));
const digest = (c: ChannelJson | undefined, image: string) => c?.images?.find((i) => i.name === image)?.digest;
const byName = (cs: ChannelJson[], ch: string) => cs.find((c) => c.channel === ch);

async function verifyLatest(t: ExecutionContext, channel: string): Promise<void> {
  const n = releaseNumbers(p, channel).at(-1)!;
  const v = await p.eksd(['verify', `kubernetes-${channel}-eks-${n}`]);
  t.is(v.code, 0, `${channel}: ${v.stdout}${v.stderr}`);
  const manifest = readFileSync(join(p.config().site.dir, `kubernetes-${channel}`, `kubernetes-${channel}-eks-${n}.yaml`), 'utf8');
  t.deepEqual(validateRelease(parse(manifest), { strict: true }), [], `${channel} release ${n} is valid against the upstream CRD`);
}

test.serial('the first run releases every channel; a build key shared by channels is built once and has one digest', async (t) => {
  const r = await releaseAll(t);
  t.is(r.code, 0, r.stderr.slice(-3000));
  t.deepEqual(states(r.channels), { '1-32': 'released', '1-33': 'released', '1-36': 'released' });
  for (const c of r.channels) t.is(c.number, 1, `${c.channel} starts at 1`);
  const [c32, c33, c36] = CHANNELS.map((ch) => byName(r.channels, ch));
  t.is(digest(c32, 'etcd'), digest(c33, 'etcd'), 'etcd v3.5.21 is one digest in 1-32 and 1-33');
  t.not(digest(c36, 'etcd'), digest(c33, 'etcd'));
  for (const base of ['eks-distro-base', 'eks-distro-minimal-base', 'go-runner']) {
    t.is(new Set(r.channels.map((c) => digest(c, base))).size, 1, `${base}: one digest for every channel`);
  }
  // Distinct keys: 2 bases, go-runner, etcd x 2 versions, kube-apiserver x 3 versions; 2 platforms each.
  t.is(builds(r.events), 2 * (2 + 1 + 2 + 3), 'nothing built twice');
  for (const ch of CHANNELS) await verifyLatest(t, ch);
  const announced = outboxFiles(p);
  t.deepEqual(announced, CHANNELS.map((ch) => `kubernetes-${ch}-eks-1.json`));
  for (const f of announced) {
    const msg = JSON.parse(readFileSync(join(p.config().announce.dir!, f), 'utf8')) as { MessageAttributes: Record<string, { StringValue: string }> };
    t.is(msg.MessageAttributes.event?.StringValue, 'new-channel', `${f} says a new channel exists`);
  }
});

test.serial('a re-run with nothing changed releases nothing and uploads nothing', async (t) => {
  const before = outboxFiles(p);
  const r = await releaseAll(t);
  t.is(r.code, 0, r.stderr.slice(-3000));
  t.deepEqual(states(r.channels), { '1-32': 'unchanged', '1-33': 'unchanged', '1-36': 'unchanged' });
  t.is(builds(r.events), 0);
  t.is(r.events.filter((e) => e.type === 'image' && (e.state === 'pushed' || e.state === 'building')).length, 0);
  t.regex(r.stderr, /channel 1-33: nothing changed since kubernetes-1-33-eks-1/);
  for (const ch of CHANNELS) t.deepEqual(releaseNumbers(p, ch), [1]);
  t.deepEqual(outboxFiles(p), before);
  t.false(existsSync(join(p.config().stateDir, 'runs', '1-33', 'current.json')), 'no run left open');
  const forced = await releaseAll(t, ['--channel', '1-33', '--release-unchanged']);
  t.is(forced.code, 0, forced.stderr.slice(-3000));
  t.deepEqual(states(forced.channels), { '1-33': 'released' }, 'released on purpose');
  t.deepEqual(releaseNumbers(p, '1-33'), [1, 2]);
});

test.serial('a base update releases every channel, each shared build once', async (t) => {
  await p.seed({ update: true });
  t.is((await p.eksd(['watch-base', '--write'])).code, 10);
  const r = await releaseAll(t);
  t.is(r.code, 0, r.stderr.slice(-3000));
  t.deepEqual(states(r.channels), { '1-32': 'released', '1-33': 'released', '1-36': 'released' });
  t.is(builds(r.events), 2 * (2 + 1 + 2 + 3));
  for (const ch of CHANNELS) await verifyLatest(t, ch);
});

test.serial('a version bump in one channel releases that channel alone', async (t) => {
  const file = join(p.root, 'images', 'kubernetes', 'component.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { versions: Array<{ channels: string[]; gitTag: string; artifacts: Array<{ name: string; sha256: string; sha512: string }> }> };
  const v = doc.versions.find((x) => x.channels.includes('1-36'))!;
  const old = v.gitTag;
  v.gitTag = 'v1.36.3';
  for (const a of v.artifacts) a.name = a.name.replace(old, v.gitTag);
  writeFileSync(file, stringify(doc));
  const specs = loadCatalog(forChannel(p.config(), '1-36')).components.find((c) => c.name === 'kubernetes')!.artifacts;
  for (const a of v.artifacts) Object.assign(a, checksums(await standinContent(specs.find((s) => s.name === a.name)!)));
  writeFileSync(file, stringify(doc));
  await p.seed();
  const r = await releaseAll(t);
  t.is(r.code, 0, r.stderr.slice(-3000));
  t.deepEqual(states(r.channels), { '1-32': 'unchanged', '1-33': 'unchanged', '1-36': 'released' });
  t.true(byName(r.channels, '1-36')!.images!.find((i) => i.name === 'kube-apiserver')!.tags.includes('v1.36.3-eks-1-36-3'));
  await verifyLatest(t, '1-36');
});

test.serial('a failure in one channel does not stop the others; the next run finishes it', async (t) => {
  await p.seed({ update: true });
  await p.eksd(['watch-base', '--write']);
  const file = join(p.root, 'images', 'kubernetes', 'component.yaml');
  const good = readFileSync(file, 'utf8');
  const doc = parse(good) as { versions: Array<{ channels: string[]; artifacts: Array<{ sha256: string }> }> };
  doc.versions.find((x) => x.channels.includes('1-33'))!.artifacts[0]!.sha256 = '0'.repeat(64);
  writeFileSync(file, stringify(doc));
  const broken = await releaseAll(t);
  t.not(broken.code, 0);
  t.deepEqual(states(broken.channels), { '1-32': 'released', '1-33': 'failed', '1-36': 'released' });
  t.regex(broken.stderr, /channel 1-33/);
  writeFileSync(file, good);
  const fixed = await releaseAll(t);
  t.is(fixed.code, 0, fixed.stderr.slice(-3000));
  t.deepEqual(states(fixed.channels), { '1-32': 'unchanged', '1-33': 'released', '1-36': 'unchanged' });
  for (const ch of CHANNELS) await verifyLatest(t, ch);
});

test.serial('killed at several points of a multi-channel run: every channel ends verified, each release announced once', async (t) => {
  const kills: Array<(e: RunEvent, seen: RunEvent[]) => boolean> = [
    (e, seen) => e.type === 'image' && e.state === 'pushed' && seen.filter((x) => x.type === 'image' && x.state === 'pushed').length === 6,
    (e, seen) => e.type === 'stage' && e.stage === 'tags' && e.state === 'finished' && seen.filter((x) => x.type === 'stage' && x.stage === 'tags' && x.state === 'finished').length === 2,
    (e, seen) => e.type === 'stage' && e.stage === 'announce' && e.state === 'finished' && seen.filter((x) => x.type === 'stage' && x.stage === 'announce' && x.state === 'finished').length === 1,
  ];
  for (const kill of kills) {
    await p.seed({ update: true });
    await p.eksd(['watch-base', '--write']);
    const crash = await releaseKilledAt(p, kill);
    t.true(crash.killed, crash.stderr.slice(-2000));
    const resumed = await releaseAll(t);
    t.is(resumed.code, 0, resumed.stderr.slice(-3000));
    for (const ch of CHANNELS) await verifyLatest(t, ch);
  }
  const files = outboxFiles(p);
  for (const ch of CHANNELS) {
    for (const n of releaseNumbers(p, ch)) t.is(files.filter((f) => f === `kubernetes-${ch}-eks-${n}.json`).length, 1, `${ch} release ${n} announced once`);
  }
  t.deepEqual(files.filter((f) => /\.\d+\.json$/.test(f)), [], 'no resend');
});

test.serial('a retired channel is marked inactive and announced once; its releases still verify; a new channel starts at 1', async (t) => {
  const channelsFile = join(p.root, 'images', 'channels.yaml');
  const doc = parse(readFileSync(channelsFile, 'utf8')) as { channels: Array<{ name: string; active: boolean; retired?: string }> };
  doc.channels.find((c) => c.name === '1-32')!.active = false;
  doc.channels.find((c) => c.name === '1-32')!.retired = '2026-12-01';
  writeFileSync(channelsFile, stringify(doc));
  const r = await releaseAll(t);
  t.is(r.code, 0, r.stderr.slice(-3000));
  t.is(states(r.channels)['1-32'], 'retired');
  const rc = parse(readFileSync(join(p.config().site.dir, 'releasechannels', '1-32.yaml'), 'utf8')) as { status: { active: boolean; latestRelease: number } };
  t.false(rc.status.active);
  t.is(rc.status.latestRelease, releaseNumbers(p, '1-32').at(-1)!);
  t.true(outboxFiles(p).includes('kubernetes-1-32-retired.json'));
  const again = await releaseAll(t);
  t.is(again.code, 0);
  t.is(outboxFiles(p).filter((f) => f.startsWith('kubernetes-1-32-retired')).length, 1, 'the retirement is announced once');
  await verifyLatest(t, '1-32');

  // A new channel: 1-37 with 1-36's versions.
  doc.channels.push({ name: '1-37', active: true });
  writeFileSync(channelsFile, stringify(doc));
  for (const c of ['go-runner', 'etcd', 'cni-plugins', 'kubernetes']) {
    const file = join(p.root, 'images', c, 'component.yaml');
    const comp = parse(readFileSync(file, 'utf8')) as { versions: Array<{ channels: string[] }> };
    comp.versions.find((v) => v.channels.includes('1-36'))!.channels.push('1-37');
    writeFileSync(file, stringify(comp));
  }
  const born = await releaseAll(t);
  t.is(born.code, 0, born.stderr.slice(-3000));
  t.is(states(born.channels)['1-37'], 'released');
  t.is(byName(born.channels, '1-37')!.number, 1);
  t.is(builds(born.events), 0, 'every image of 1-37 is a build 1-36 already has');
  t.is(digest(byName(born.channels, '1-37'), 'etcd'), digest(byName(born.channels, '1-36'), 'etcd'), 'etcd v3.6.12: one digest in 1-36 and 1-37');
  const msg = JSON.parse(readFileSync(join(p.config().announce.dir!, 'kubernetes-1-37-eks-1.json'), 'utf8')) as { MessageAttributes: Record<string, { StringValue: string }> };
  t.is(msg.MessageAttributes.event?.StringValue, 'new-channel');
  await verifyLatest(t, '1-37');
});

test.serial('a catalog error fails the run once, before any channel is touched', async (t) => {
  const q = await makeProject({ catalog: 'mini', channels: CHANNELS });
  t.teardown(() => q.cleanup());
  const file = join(q.root, 'images', 'etcd', 'component.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { versions: Array<{ channels: string[] }> };
  doc.versions[0]!.channels.push('1-99');
  writeFileSync(file, stringify(doc));
  const r = await q.eksd(['release']);
  t.is(r.code, 2, r.stderr);
  t.is(r.stderr.match(/CATALOG_INVALID/g)?.length, 1, r.stderr);
  t.regex(r.stderr, /1-99/);
  t.false(existsSync(q.config().site.dir), 'nothing published');
  t.false(existsSync(join(q.config().stateDir, 'leases')), 'no channel was opened');
});
