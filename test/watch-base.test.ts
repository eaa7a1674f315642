/**
 * `eksd watch-base` against the local registry: the stand-in upstream image of a throwaway project is
 * compared with the project's pin, re-pushed as a new revision (what an AL2 update looks like), pinned
 * with --write, and compared again. GITHUB_OUTPUT receives what a workflow step needs.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { RegistryClient } from '../pipeline/registry/index.ts';
import { splitReference } from '../pipeline/resolve/base.ts';
import { makeProject, type TestProject } from './helpers/project.ts';

interface PinFile { upstream: { reference: string; digest: string | null; platforms?: Record<string, string> } }
interface WatchJson {
  reference: string;
  changed: boolean;
  written: boolean;
  pinned: { digest: string | null; platforms: Record<string, string> };
  current: { digest: string; platforms: Record<string, string> };
  changes: Array<{ field: string; pinned?: string; current: string }>;
}

const projects: TestProject[] = [];
const dirs: string[] = [];
test.after.always(async () => {
  await Promise.all([...projects.map((p) => p.cleanup()), ...dirs.map((d) => rm(d, { recursive: true, force: true }))]);
});

async function project(): Promise<TestProject> {
  const p = await makeProject({ catalog: 'mini' });
  projects.push(p);
  await p.seed();
  return p;
}

async function readPin(p: TestProject): Promise<PinFile['upstream']> {
  return (parse(await readFile(p.config().basePin, 'utf8')) as PinFile).upstream;
}

/** What the registry serves for the pinned reference: the index digest and its per-platform children. */
async function served(reference: string): Promise<{ index: string; platforms: Record<string, string> }> {
  const { registry, repository, tag } = splitReference(reference);
  const client = new RegistryClient({ registry });
  const index = await client.getManifest(repository, tag);
  const children = (index.json as { manifests?: Array<{ digest: string; platform?: { os: string; architecture: string } }> }).manifests ?? [];
  const platforms: Record<string, string> = {};
  for (const c of children) if (c.platform && c.platform.os !== 'unknown') platforms[`${c.platform.os}/${c.platform.architecture}`] = c.digest;
  return { index: index.digest, platforms };
}

/** key=value lines of a GITHUB_OUTPUT file; later lines win, like in Actions. */
function outputs(text: string): Record<string, string> {
  const o: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) o[line.slice(0, i)] = line.slice(i + 1);
  }
  return o;
}

async function outputFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'eksd-gh-output-'));
  dirs.push(dir);
  return join(dir, 'output');
}

test('unchanged base: exit 0, says unchanged, GITHUB_OUTPUT gets changed=false and the pinned digests', async (t) => {
  const p = await project();
  const pin = await readPin(p);
  const file = await outputFile();
  const r = await p.eksd(['watch-base'], { env: { GITHUB_OUTPUT: file } });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /unchanged/);
  t.true(r.stdout.includes(pin.digest!));
  const o = outputs(await readFile(file, 'utf8'));
  t.is(o.changed, 'false');
  t.is(o.digest, pin.digest!);
  t.is(o['linux-amd64'], pin.platforms!['linux/amd64']);
  t.is(o['linux-arm64'], pin.platforms!['linux/arm64']);
});

test('new upstream revision: exit 10 with the new digests; --write pins them; the next call is unchanged', async (t) => {
  const p = await project();
  const before = await readPin(p);
  await p.seed({ update: true });
  const now = await served(before.reference);
  t.not(now.index, before.digest);

  const file = await outputFile();
  const changed = await p.eksd(['watch-base'], { env: { GITHUB_OUTPUT: file } });
  t.is(changed.code, 10, changed.stderr);
  t.regex(changed.stdout, /changed/);
  for (const d of [now.index, now.platforms['linux/amd64']!, now.platforms['linux/arm64']!]) t.true(changed.stdout.includes(d), `${d} printed`);
  t.true(changed.stdout.includes(before.digest!), 'the pinned digest is printed next to the new one');
  t.deepEqual(await readPin(p), before, 'without --write the pin is left alone');
  const o = outputs(await readFile(file, 'utf8'));
  t.is(o.changed, 'true');
  t.is(o.digest, now.index);
  t.is(o['linux-amd64'], now.platforms['linux/amd64']);
  t.is(o['linux-arm64'], now.platforms['linux/arm64']);

  const json = await p.eksd(['watch-base', '--json']);
  t.is(json.code, 10);
  const report = JSON.parse(json.stdout) as WatchJson;
  t.true(report.changed);
  t.false(report.written);
  t.deepEqual(report.changes.map((c) => c.field).sort(), ['index', 'linux/amd64', 'linux/arm64']);
  t.is(report.changes.find((c) => c.field === 'index')!.pinned, before.digest!);
  t.is(report.changes.find((c) => c.field === 'index')!.current, now.index);

  const write = await p.eksd(['watch-base', '--write'], { env: { GITHUB_OUTPUT: file } });
  t.is(write.code, 10, 'a write still reports that the base changed (the release has yet to run)');
  t.regex(write.stdout, /wrote /);
  const pinned = await readPin(p);
  t.is(pinned.reference, before.reference);
  t.is(pinned.digest, now.index, 'the pin records the index digest the registry serves');
  t.deepEqual(pinned.platforms, now.platforms, 'and each platform digest under its own platform');

  const again = await p.eksd(['watch-base', '--json'], { env: { GITHUB_OUTPUT: file } });
  t.is(again.code, 0, again.stderr);
  const after = JSON.parse(again.stdout) as WatchJson;
  t.false(after.changed);
  t.deepEqual(after.changes, []);
  t.is(outputs(await readFile(file, 'utf8')).changed, 'false', 'the last call wins in GITHUB_OUTPUT');
});

test('the index digest is compared with the index digest, never with a platform digest', async (t) => {
  const p = await project();
  const pin = await readPin(p);
  const now = await served(pin.reference);
  t.is(pin.digest, now.index);
  t.false(Object.values(now.platforms).includes(pin.digest!), 'the pinned digest is not one of the per-arch digests');
  t.deepEqual(pin.platforms, now.platforms);
  const r = await p.eksd(['watch-base', '--json']);
  const report = JSON.parse(r.stdout) as WatchJson;
  t.is(report.current.digest, now.index);
  t.deepEqual(report.current.platforms, now.platforms);
});

test('errors: an unreachable pin reference exits 1 with a cause on stderr', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  projects.push(p);
  // The pin names the project's stand-in, which is not seeded: the registry has no such repository.
  const r = await p.eksd(['watch-base']);
  t.is(r.code, 1, r.stdout);
  t.regex(r.stderr, /^eksd watch-base: /m);
  t.is(r.stdout, '');
});
