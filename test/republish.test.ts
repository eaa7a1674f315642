/**
 * `eksd republish` after real releases of a throwaway project: tags overwritten, tags lost, whole
 * repositories' manifests deleted, and a mirror on a second registry. Every case ends with the recorded
 * digests served again and `eksd verify` passing; nothing is ever rebuilt.
 */
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient } from '../pipeline/registry/index.ts';
import { parseRelease } from '../pipeline/release/manifest.ts';
import type { Release } from '../pipeline/release/types.ts';
import { mirrorDirName, parseLocation } from '../pipeline/app/republish.ts';
import type { RepublishResult } from '../pipeline/app/republish.ts';
import { makeProject, type TestProject } from './helpers/project.ts';
import { startRegistry, type RunningRegistry } from './helpers/registry.ts';

const R1 = 'kubernetes-1-33-eks-1';
const R2 = 'kubernetes-1-33-eks-2';

const cleanups: Array<() => Promise<void>> = [];
test.after.always(async () => { await Promise.all(cleanups.map((c) => c())); });

async function project(): Promise<TestProject> {
  const p = await makeProject({ catalog: 'mini' });
  cleanups.push(() => p.cleanup());
  await p.seed();
  return p;
}

async function registry(): Promise<RunningRegistry> {
  const reg = await startRegistry();
  cleanups.push(() => reg.stop());
  return reg;
}

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'eksd-republish-'));
  cleanups.push(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function release(p: TestProject): Promise<void> {
  const r = await p.eksd(['release', '--events', 'plain']);
  if (r.code !== 0) throw new Error(`release failed (${r.code}): ${r.stderr.slice(-3000)}`);
}

function manifestFile(p: TestProject, name: string): string {
  return join(p.config().site.dir, 'kubernetes-1-33', `${name}.yaml`);
}

async function readManifest(file: string): Promise<Release> {
  return parseRelease(await readFile(file, 'utf8'), file);
}

interface Img { key: string; registry: string; repository: string; tag: string; digest: string }

function images(r: Release): Img[] {
  return r.status.components.flatMap((c) => c.assets.filter((a) => a.type === 'Image').map((a) => {
    const m = /^([^/]+)\/(.+):([^:/@]+)$/.exec(a.image!.uri)!;
    return { key: `${c.name}/${a.name}`, registry: m[1]!, repository: m[2]!, tag: m[3]!, digest: a.image!.imageDigest! };
  }));
}

const latestTag = (i: Img) => i.tag.replace(/-\d+$/, '-latest');
const clients = new Map<string, RegistryClient>();
const client = (registryHost: string) => {
  let c = clients.get(registryHost);
  if (!c) { c = new RegistryClient({ registry: registryHost }); clients.set(registryHost, c); }
  return c;
};

async function tagDigest(i: Img, tag: string): Promise<string | undefined> {
  return (await client(i.registry).headManifest(i.repository, tag))?.digest;
}

async function children(i: Img): Promise<Array<{ digest: string; mediaType: string }>> {
  const index = await client(i.registry).getManifest(i.repository, i.digest);
  return (index.json as { manifests: Array<{ digest: string; mediaType: string }> }).manifests;
}

/** Points a tag at the image's first child manifest: a tag someone moved by mistake. */
async function breakTag(i: Img, tag: string): Promise<string> {
  const [child] = await children(i);
  const m = await client(i.registry).getManifest(i.repository, child!.digest);
  await client(i.registry).putManifest(i.repository, tag, new Uint8Array(m.bytes), m.mediaType);
  return m.digest;
}

/** Deletes the index and every child manifest by digest (their tags go with them). */
async function deleteImage(i: Img): Promise<void> {
  const kids = await children(i);
  await client(i.registry).deleteManifest(i.repository, i.digest);
  for (const k of kids) await client(i.registry).deleteManifest(i.repository, k.digest);
}

async function republishJson(p: TestProject, args: string[]): Promise<{ code: number | null; result?: RepublishResult; stderr: string }> {
  const r = await p.eksd(['republish', ...args, '--json']);
  return { code: r.code, stderr: r.stderr, ...(r.code === 0 || r.code === 3 ? { result: JSON.parse(r.stdout) as RepublishResult } : {}) };
}

async function verify(p: TestProject, ref: string): Promise<number | null> {
  return (await p.eksd(['verify', ref, '--attempts', '1'])).code;
}

test('location parsing and mirror folder names', (t) => {
  t.deepEqual(parseLocation('127.0.0.1:5001/mirror/eks-distro', '--to'), { registry: '127.0.0.1:5001', namespace: 'mirror/eks-distro' });
  t.deepEqual(parseLocation('public.ecr.aws/my-alias/', '--to'), { registry: 'public.ecr.aws', namespace: 'my-alias' });
  t.deepEqual(parseLocation('127.0.0.1:5001', '--to'), { registry: '127.0.0.1:5001', namespace: '' });
  t.is(mirrorDirName(parseLocation('127.0.0.1:5001/mirror/eks-distro', '--to')), '127.0.0.1_5001_mirror_eks-distro');
  for (const bad of ['', 'Reg istry/x', '127.0.0.1:5001/Upper', '127.0.0.1:5001/x:tag', '127.0.0.1:5001/x@sha256']) {
    t.throws(() => parseLocation(bad, '--to'), { message: /--to must be/ }, bad);
  }
});

test('usage: --help, no release, bad --to, unknown release', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  cleanups.push(() => p.cleanup());
  const help = await p.eksd(['republish', '--help']);
  t.is(help.code, 0);
  for (const flag of ['--to', '--from', '--announce', '--output', '--json']) t.true(help.stdout.includes(flag), flag);
  t.is((await p.eksd(['republish'])).code, 2);
  const bad = await p.eksd(['republish', R1, '--to', 'not a registry']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--to must be <registry>\[\/<namespace>\]/);
  const missing = await p.eksd(['republish', R1]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /RELEASE_NOT_FOUND/);
  t.regex(missing.stderr, /hint:/);
});

test('in place: moved tags are restored to the recorded digests; -latest of a newer release is not moved back; --announce resends as a republish', async (t) => {
  const p = await project();
  await release(p);
  await p.seed({ update: true });
  t.is((await p.eksd(['watch-base', '--write'])).code, 10);
  await release(p);
  const r1 = images(await readManifest(manifestFile(p, R1)));
  const r2 = images(await readManifest(manifestFile(p, R2)));
  t.is(r1.length, 2);
  for (const i of r1) t.not(i.digest, r2.find((j) => j.key === i.key)!.digest, `${i.key} was rebuilt on the new base`);
  const outbox = p.config().announce.dir!;
  const sentBefore = (await readdir(outbox)).sort();

  // An incident: release 1's versioned tags now point at something else.
  for (const i of r1) await breakTag(i, i.tag);
  t.is(await verify(p, R1), 3);

  const first = await republishJson(p, [R1]);
  t.is(first.code, 0, first.stderr);
  const res = first.result!;
  t.false(res.mirror);
  t.is(res.verify.problems.length, 0);
  for (const i of r1) {
    const out = res.images.find((x) => `${x.component}/${x.asset}` === i.key)!;
    t.is(out.digest, i.digest);
    t.is(out.sourceKind, 'release', 'the digest was still in its repository');
    t.is(out.copied.manifestsPushed, 0, 'nothing to copy: only tags were wrong');
    t.like(out.tags.find((x) => x.tag === i.tag), { action: 'moved' });
    const latest = out.tags.find((x) => x.tag === latestTag(i))!;
    t.is(latest.action, 'kept');
    t.regex(latest.note!, new RegExp(R2));
    t.is(await tagDigest(i, i.tag), i.digest, 'versioned tag restored');
    t.is(await tagDigest(i, latestTag(i)), r2.find((j) => j.key === i.key)!.digest, '-latest still points at release 2');
  }
  t.is(await verify(p, R1), 0);
  t.is(await verify(p, R2), 0);
  t.deepEqual((await readdir(outbox)).sort(), sentBefore, 'no announcement without --announce');

  // Release 2's floating tags broken: republishing release 2 restores them.
  for (const i of r2) await breakTag(i, latestTag(i));
  const second = await republishJson(p, [R2]);
  t.is(second.code, 0, second.stderr);
  for (const i of r2) {
    t.like(second.result!.images.find((x) => `${x.component}/${x.asset}` === i.key)!.tags.find((x) => x.tag === latestTag(i)), { action: 'moved' });
    t.is(await tagDigest(i, latestTag(i)), i.digest);
    t.like(second.result!.images.find((x) => `${x.component}/${x.asset}` === i.key)!.tags.find((x) => x.tag === i.tag), { action: 'unchanged' });
  }

  // A deliberate re-announcement, marked as a republish.
  const again = await p.eksd(['republish', R1, '--announce']);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /announce sent again/);
  const resend = JSON.parse(await readFile(join(outbox, `${R1}.1.json`), 'utf8')) as { Subject: string; Message: string };
  t.is(resend.Subject, `EKS Distro ${R1} republished`);
  const body = JSON.parse((JSON.parse(resend.Message) as { sqs: string }).sqs) as { republish: boolean; release: string };
  t.true(body.republish);
  t.is(body.release, R1);
  t.regex((JSON.parse(resend.Message) as { email: string }).email, /republished announcement/);
});

test('mirror on a second registry: the mirror manifest verifies there; tags lost in the mirror are restored from the mirror itself', async (t) => {
  const p = await project();
  const reg = await registry();
  await release(p);
  const original = await readManifest(manifestFile(p, R1));
  const to = `${reg.host}/mirror/eks-distro`;

  const notInPlace = await p.eksd(['republish', R1, '--to', to, '--announce']);
  t.is(notInPlace.code, 2, 'mirrors are not announced');
  t.regex(notInPlace.stderr, /mirror/);

  const r = await republishJson(p, [R1, '--to', to]);
  t.is(r.code, 0, r.stderr);
  t.true(r.result!.mirror);
  const file = join(p.config().site.dir, 'mirrors', `127.0.0.1_${reg.host.split(':')[1]}_mirror_eks-distro`, `${R1}.yaml`);
  t.is(r.result!.mirrorManifest, file);
  const mirrored = await readManifest(file);
  t.is(mirrored.metadata.name, R1);
  t.is(mirrored.status.date, original.status.date);
  const before = images(original);
  const after = images(mirrored);
  t.is(after.length, before.length);
  for (const i of after) {
    const o = before.find((j) => j.key === i.key)!;
    t.is(i.registry, reg.host);
    t.is(i.repository, o.repository.replace(`${p.ns}/eks-distro/`, 'mirror/eks-distro/'));
    t.is(i.tag, o.tag);
    t.is(i.digest, o.digest, 'same digest in the mirror');
    t.is(await tagDigest(i, i.tag), o.digest);
    t.is(await tagDigest(i, latestTag(i)), o.digest);
    t.true(r.result!.images.find((x) => `${x.component}/${x.asset}` === i.key)!.copied.manifestsPushed >= 3, 'index and both platforms copied');
  }
  // Archives are the site's, unchanged.
  const archives = (rel: Release) => rel.status.components.flatMap((c) => c.assets.filter((a) => a.type === 'Archive'));
  t.deepEqual(archives(mirrored), archives(original));
  t.is(await verify(p, file), 0, 'eksd verify accepts the mirror manifest');
  t.is(await verify(p, R1), 0, 'the original is untouched');

  // The mirror loses its tags (storage-level, as the API cannot delete a tag alone).
  // Its image tags only: the referrers tags (sha256-<hex>) listing the attestations stay, as referrers do.
  for (const i of after) {
    const tags = join(reg.dir, 'data', 'docker', 'registry', 'v2', 'repositories', ...i.repository.split('/'), '_manifests', 'tags');
    for (const tag of readdirSync(tags).filter((x) => !x.startsWith('sha256-'))) await rm(join(tags, tag), { recursive: true, force: true });
  }
  t.is(await tagDigest(after[0]!, after[0]!.tag), undefined);
  t.is(await verify(p, file), 3);

  const restore = await republishJson(p, [file, '--to', to]);
  t.is(restore.code, 0, restore.stderr);
  t.false(restore.result!.mirror, 'the mirror manifest already points there: restored in place');
  for (const i of after) {
    const out = restore.result!.images.find((x) => `${x.component}/${x.asset}` === i.key)!;
    t.is(out.copied.manifestsPushed, 0, 'the digests were still in the mirror');
    t.like(out.tags.find((x) => x.tag === i.tag), { action: 'created' });
    t.is(await tagDigest(i, i.tag), i.digest);
    t.is(await tagDigest(i, latestTag(i)), i.digest);
  }
  t.is(await verify(p, file), 0);
});

test('whole repositories gone: republish names the missing digests and writes nothing; --from a mirror (or a mirror recorded in the site) restores them byte for byte', async (t) => {
  const p = await project();
  const reg = await registry();
  await release(p);
  const rel = images(await readManifest(manifestFile(p, R1)));
  const to = `${reg.host}/backup`;
  const elsewhere = join(await tempDir(), 'mirror.yaml');
  const m = await republishJson(p, [R1, '--to', to, '--output', elsewhere]);
  t.is(m.code, 0, m.stderr);
  t.true(existsSync(elsewhere));
  t.false(existsSync(join(p.config().site.dir, 'mirrors')), '--output keeps the mirror manifest out of the site');

  for (const i of rel) await deleteImage(i);
  for (const i of rel) t.is(await client(i.registry).headManifest(i.repository, i.digest), undefined);
  t.is(await verify(p, R1), 3);

  const lost = await p.eksd(['republish', R1]);
  t.is(lost.code, 1);
  t.regex(lost.stderr, /REPUBLISH_SOURCE_MISSING/);
  for (const i of rel) t.true(lost.stderr.includes(i.digest), `${i.digest} named`);
  t.regex(lost.stderr, /hint: give --from/);
  for (const i of rel) t.is(await tagDigest(i, i.tag), undefined, 'nothing written');

  const restored = await republishJson(p, [R1, '--from', to]);
  t.is(restored.code, 0, restored.stderr);
  for (const i of rel) {
    const out = restored.result!.images.find((x) => `${x.component}/${x.asset}` === i.key)!;
    t.is(out.sourceKind, `--from ${to}`);
    t.is(out.copied.manifestsPushed, 3);
    t.is(await tagDigest(i, i.tag), i.digest);
    t.is(await tagDigest(i, latestTag(i)), i.digest);
  }
  t.is(await verify(p, R1), 0);

  // Once a mirror manifest is in the site, the mirror is found without --from.
  t.is((await p.eksd(['republish', R1, '--to', to])).code, 0);
  t.true(existsSync(join(p.config().site.dir, 'mirrors', mirrorDirName(parseLocation(to, 'to')), `${R1}.yaml`)));
  for (const i of rel) await deleteImage(i);
  const again = await republishJson(p, [R1]);
  t.is(again.code, 0, again.stderr);
  for (const out of again.result!.images) t.regex(out.sourceKind, /^mirror .*mirrors/);
  for (const i of rel) t.is(await tagDigest(i, i.tag), i.digest);
  t.is(await verify(p, R1), 0);
});
