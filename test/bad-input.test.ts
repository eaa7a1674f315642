/**
 * Bad input is refused before any side effect, naming the place (file:line:field, the flag or the
 * environment variable) with a hint: path-like catalog values, extra tags shaped like the engine's own,
 * malformed channels, plain-http URLs, corrupted state files, a full or read-only disk, flaky or stalled
 * artifact servers, a shared artifact cache, secrets in output, and registry values bound for
 * GITHUB_OUTPUT. Each test checks the message and that nothing was pushed, written or announced.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { fetchArtifacts, type FetchOptions } from '../pipeline/resolve/artifacts.ts';
import type { ArtifactSpec } from '../pipeline/catalog/model.ts';
import { EksdError } from '../pipeline/errors.ts';
import { appendGithubOutput } from '../pipeline/util/github.ts';
import { writeStepSummary } from '../pipeline/report/summary.ts';
import type { RunResult } from '../pipeline/app/runner.ts';
import { tarGzBuffer } from '../pipeline/util/tar.ts';
import { makeProject, repositoriesOf, REPO_ROOT, type TestProject } from './helpers/project.ts';

const ETCD = 'images/etcd/component.yaml';
const dirs: string[] = [];
const projects: TestProject[] = [];
test.after.always(async () => {
  await Promise.all([...projects.map((p) => p.cleanup()), ...dirs.map((d) => rm(d, { recursive: true, force: true }))]);
});

async function project(): Promise<TestProject> {
  const p = await makeProject({ catalog: 'mini' });
  projects.push(p);
  return p;
}

async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'eksd-bad-input-'));
  dirs.push(dir);
  return dir;
}

/** Nothing of a run exists: no state, site, cache or announcement, and no repository in the registry. */
async function nothingWritten(t: ExecutionContext, p: TestProject, keep: string[] = []): Promise<void> {
  for (const d of ['state', 'site', 'cache', 'announcements']) {
    if (!keep.includes(d)) t.false(existsSync(join(p.root, 'out', d)), `out/${d} was not created`);
  }
  t.deepEqual(await pushed(p), [], 'nothing was pushed');
}

/** Replaces `from` by `to` in a project file; returns the 1-based line of the first line of `to`. */
function edit(p: TestProject, file: string, from: string | RegExp, to: string): { line: number; restore: () => void } {
  const path = join(p.root, file);
  const before = readFileSync(path, 'utf8');
  const after = before.replace(from, to);
  if (after === before) throw new Error(`${String(from)} not found in ${file}`);
  writeFileSync(path, after);
  const last = to.split('\n').filter((x) => x.trim()).at(-1)!.trim();
  const line = after.split('\n').findIndex((l) => l.includes(last)) + 1;
  return { line, restore: () => writeFileSync(path, before) };
}

/** 1-based line of the first line equal to `text` once trimmed. */
function lineOf(p: TestProject, file: string, text: string): number {
  return readFileSync(join(p.root, file), 'utf8').split('\n').findIndex((l) => l.trim() === text) + 1;
}

/** The project's repositories in the registry, leaving out the stand-in upstream image the seed pushes. */
async function pushed(p: TestProject): Promise<string[]> {
  return (await repositoriesOf(p)).filter((r) => r !== `${p.ns}/amazonlinux`);
}

/** The error report of a failed eksd run: its `eksd <command>:` line and what follows it. */
function errorReport(stderr: string): string[] {
  const lines = stderr.split('\n');
  return lines.slice(lines.findIndex((l) => /^eksd [a-z-]+: /.test(l))).filter((l) => l !== '');
}

/** Merges keys into the project's config file. */
function configure(p: TestProject, change: (c: Record<string, unknown>) => void): () => void {
  const before = readFileSync(p.configFile, 'utf8');
  const c = parse(before) as Record<string, unknown>;
  change(c);
  writeFileSync(p.configFile, stringify(c));
  return () => writeFileSync(p.configFile, before);
}

function noStack(t: ExecutionContext, stderr: string): void {
  t.notRegex(stderr, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace');
  t.notRegex(stderr, /unexpected error/);
}

test('1. path-like catalog values (.., absolute paths, Dockerfiles outside their folder) are refused at catalog load with file:line:field', async (t) => {
  const p = await project();
  const cases: Array<{ file: string; from: string | RegExp; to: string; field: string; expected: RegExp; at?: string }> = [
    { file: ETCD, from: 'name: etcd-linux-amd64-v3.5.21.tar.gz', to: 'name: ../../../../tmp/etcd.tar.gz', field: 'artifacts[0].name', expected: /artifact name '\.\.\/\.\.\/\.\.\/\.\.\/tmp\/etcd\.tar\.gz' must be a relative path/ },
    { file: ETCD, from: 'name: etcd-linux-amd64-v3.5.21.tar.gz', to: 'name: bin/./etcd.tar.gz', field: 'artifacts[0].name', expected: /must be a relative path of plain names/ },
    { file: ETCD, from: 'project: etcd-io/etcd', to: 'project: etcd-io/..', field: 'project', expected: /project 'etcd-io\/\.\.' has the segment '\.\.'/ },
    { file: ETCD, from: 'project: etcd-io/etcd', to: 'project: ../etcd', field: 'project', expected: /has the segment '\.\.'/ },
    { file: ETCD, from: 'gitTag: v3.5.21', to: 'gitTag: ..', field: 'gitTag', expected: /"\.\." does not match/ },
    { file: ETCD, from: '    stages: [etcd]', to: '    stages: [etcd]\n    dockerfile: ../go-runner/Dockerfile', field: 'images[0].dockerfile', expected: /dockerfile '\.\.\/go-runner\/Dockerfile' resolves outside images\/etcd/ },
    { file: ETCD, from: '    stages: [etcd]', to: '    stages: [etcd]\n    dockerfile: /etc/hostname', field: 'images[0].dockerfile', expected: /dockerfile '\/etc\/hostname' is an absolute path/ },
    { file: 'base/bases.yaml', from: /( {4}from: upstream\n)/, to: '$1    dockerfile: ../images/etcd/Dockerfile\n', field: 'bases[0].dockerfile', expected: /resolves outside base/, at: 'dockerfile: ../images/etcd/Dockerfile' },
  ];
  for (const c of cases) {
    const e = edit(p, c.file, c.from, c.to);
    const line = c.at ? lineOf(p, c.file, c.at) : e.line;
    const r = await p.eksd(['release']);
    e.restore();
    t.is(r.code, 2, `${c.to}: ${r.stderr}`);
    t.true(r.stderr.includes(`${c.file}:${line}:`), `${c.to}: names ${c.file}:${line}:\n${r.stderr}`);
    t.true(r.stderr.includes(c.field), `${c.to}: names ${c.field}\n${r.stderr}`);
    t.regex(r.stderr, c.expected);
    t.regex(r.stderr, /CATALOG_INVALID[\s\S]*hint: /);
  }
  // A Dockerfile that is a symlink out of its folder: its build context would be another folder.
  const dockerfile = join(p.root, 'images', 'etcd', 'Dockerfile');
  const original = readFileSync(dockerfile);
  rmSync(dockerfile);
  symlinkSync(join(p.root, 'images', 'go-runner', 'Dockerfile'), dockerfile);
  const linked = await p.eksd(['release', '--dry-run']);
  rmSync(dockerfile);
  writeFileSync(dockerfile, original);
  t.is(linked.code, 2);
  t.regex(linked.stderr, new RegExp(`${ETCD}:${lineOf(p, ETCD, '- name: etcd')}:\\d+ images\\[0\\]\\.dockerfile: dockerfile 'Dockerfile' resolves outside images/etcd \\(to images/go-runner/Dockerfile\\)`));
  await nothingWritten(t, p);
  t.is((await p.eksd(['catalog'])).code, 0, 'the restored catalog is valid');
});

test('2. extraTags shaped like the engine\'s versioned or -latest tags are refused', async (t) => {
  const p = await project();
  for (const tag of ['v3.5.21-eks-1-33-7', 'v3.5.21-eks-1-33-latest', 'other-eks-1-32-1']) {
    const e = edit(p, ETCD, '    stages: [etcd]', `    stages: [etcd]\n    extraTags: [ok-tag, ${tag}]`);
    const r = await p.eksd(['release']);
    e.restore();
    t.is(r.code, 2, r.stderr);
    t.true(r.stderr.includes(`${ETCD}:${e.line}:`), r.stderr);
    t.true(r.stderr.includes('images[0].extraTags[1]'), r.stderr);
    t.true(r.stderr.includes(`extra tag '${tag}' has the shape of a tag the engine moves`), r.stderr);
    t.false(r.stderr.includes("extra tag 'ok-tag' has the shape"), 'other extra tags have a fine shape');
  }
  await nothingWritten(t, p);
});

test('3. channels other than <major>-<minor> without leading zeros are refused from the config file, EKSD_CHANNEL, --channel and release names', async (t) => {
  const p = await project();
  const expectRefused = (r: { code: number | null; stderr: string }, value: string) => {
    t.is(r.code, 2, r.stderr);
    t.true(r.stderr.includes(`channel: ${JSON.stringify(value)} does not match`), r.stderr);
    t.regex(r.stderr, /EKSD_CHANNEL and --channel/);
  };
  const restore = configure(p, (c) => { c.channel = '01-33'; });
  const fromFile = await p.eksd(['release']);
  restore();
  expectRefused(fromFile, '01-33');
  t.true(fromFile.stderr.includes(p.configFile), 'names the config file');
  expectRefused(await p.eksd(['release'], { env: { EKSD_CHANNEL: '1-033' } }), '1-033');
  expectRefused(await p.eksd(['release', '--dry-run', '--channel', '1.33']), '1.33');
  expectRefused(await p.eksd(['catalog', '--channel', '1-']), '1-');
  for (const args of [['announce', 'kubernetes-01-33-eks-1', '--mark-sent'], ['verify', 'kubernetes-1-033-eks-1'], ['announce', 'kubernetes-1-33-eks-01']]) {
    const r = await p.eksd(args);
    t.is(r.code, 2, r.stderr);
    t.true(r.stderr.includes(`invalid release name "${args[1]}" (at argument '${args[1]}')`), r.stderr);
    t.regex(r.stderr, /hint: a release name is kubernetes-<channel>-eks-<number>/);
  }
  await nothingWritten(t, p);
});

test('4. the site and artifact URLs must be https unless the host is loopback (file: stays allowed for artifacts)', async (t) => {
  const p = await project();
  const siteEnv = await p.eksd(['release'], { env: { EKSD_SITE_URL: 'http://distro.example.com' } });
  t.is(siteEnv.code, 2);
  t.regex(siteEnv.stderr, /CONFIG_INVALID: site\.baseUrl "http:\/\/distro\.example\.com" uses plain http to a host that is not loopback \(at site\.baseUrl \(config file key, EKSD_SITE_URL\)\)\n {2}hint: use an https:\/\/ URL/);
  const restore = configure(p, (c) => { (c.artifacts as Record<string, string>).baseUrl = 'http://artifacts.example.com/src'; });
  const artifactsFile = await p.eksd(['release', '--dry-run']);
  restore();
  t.is(artifactsFile.code, 2);
  t.regex(artifactsFile.stderr, /artifacts\.baseUrl "http:\/\/artifacts\.example\.com\/src" uses plain http .*EKSD_ARTIFACTS_URL/);
  const ftp = await p.eksd(['catalog'], { env: { EKSD_ARTIFACTS_URL: 'ftp://artifacts.example.com/src' } });
  t.regex(ftp.stderr, /artifacts\.baseUrl "ftp:\/\/artifacts\.example\.com\/src" uses ftp, not https/);
  const credentials = await p.eksd(['catalog'], { env: { EKSD_SITE_URL: 'https://bob:s3cr3t-pw@distro.example.com' } });
  t.is(credentials.code, 2);
  t.regex(credentials.stderr, /site\.baseUrl "https:\/\/\*\*\*@distro\.example\.com" carries credentials/);
  t.false(credentials.stderr.includes('s3cr3t-pw'));
  for (const [site, artifacts] of [['http://127.0.0.1:8080', 'http://localhost:9/src'], ['http://[::1]:8080/', 'https://artifacts.example.com/src'], ['https://distro.example.com', 'file:out/local/artifacts']]) {
    const ok = await p.eksd(['catalog'], { env: { EKSD_SITE_URL: site!, EKSD_ARTIFACTS_URL: artifacts! } });
    t.is(ok.code, 0, `${site} + ${artifacts}: ${ok.stderr}`);
  }
  await nothingWritten(t, p);
});

test('5. a corrupted run journal or announcement ledger stops with the file named and how to recover', async (t) => {
  const p = await project();
  const journal = join(p.root, 'out', 'state', 'runs', '1-33', 'current.json');
  mkdirSync(join(journal, '..'), { recursive: true });
  const cases = [['{"channel": "1-33", "number": 2, "ima', 'it is not valid JSON'], ['[]', 'it is not an object with channel, number and stages'],
    ['{"channel": "1-33"}', 'it is not an object with channel, number and stages']] as const;
  for (const [text, why] of cases) {
    writeFileSync(journal, text);
    const r = await p.eksd(['release']);
    t.is(r.code, 1, r.stderr);
    t.true(r.stderr.includes(`RUN_JOURNAL_CORRUPT: the run journal ${journal} cannot be read: ${why}`), r.stderr);
    t.true(r.stderr.includes(`hint: restore it from a backup to resume that run, or move it aside (mv ${journal} ${journal}.corrupt)`), r.stderr);
    noStack(t, r.stderr);
    t.is(readFileSync(journal, 'utf8'), text, 'the journal is left as it was');
    t.false(existsSync(join(p.root, 'out', 'state', 'locks', '1-33.lock')), 'the channel lock was released');
  }
  // The announcement ledger of a release, corrupted: --mark-sent refuses instead of overwriting it.
  const manifest = join(p.root, 'release.yaml');
  writeFileSync(manifest, stringify({ apiVersion: 'distro.eks.amazonaws.com/v1alpha1', kind: 'Release', metadata: { name: 'kubernetes-1-33-eks-1' },
    spec: { channel: '1-33', number: 1 }, status: { date: '2025-06-01T12:00:00Z', components: [] } }));
  const ledger = join(p.root, 'out', 'state', 'announcements', 'kubernetes-1-33-eks-1.json');
  mkdirSync(join(ledger, '..'), { recursive: true });
  writeFileSync(ledger, '{"release": "kubernetes-1-33-eks-1", "sta');
  const r = await p.eksd(['announce', manifest, '--mark-sent']);
  t.is(r.code, 1, r.stderr);
  t.true(r.stderr.includes(`ANNOUNCE_LEDGER: announcement ledger ${ledger} is unreadable`), r.stderr);
  t.regex(r.stderr, /hint: restore .*deleting it makes the next run announce the release again/);
  t.is(readFileSync(ledger, 'utf8'), '{"release": "kubernetes-1-33-eks-1", "sta');
  t.false(existsSync(join(p.root, 'out', 'announcements')), 'nothing was announced');
  await nothingWritten(t, p, ['state']);
});

/** Mounts a tmpfs of `size` at dir (created), returning its unmount. */
function mountTmpfs(dir: string, size: string): () => void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return () => execFileSync('umount', [dir]);
}

/** Fills the file system holding dir until a write fails with ENOSPC. */
function fill(dir: string): void {
  const chunk = Buffer.alloc(4096, 1);
  for (let i = 0; ; i++) {
    try { writeFileSync(join(dir, `.fill-${i}`), chunk); } catch { return; }
  }
}

test.serial('6. a read-only state directory and a full artifact cache fail with one line naming the path; the run then resumes', async (t) => {
  const p = await project();
  const state = join(p.root, 'out', 'state');
  mkdirSync(state, { recursive: true });
  execFileSync('mount', ['--bind', state, state]);
  execFileSync('mount', ['-o', 'remount,bind,ro', state]);
  let unmountState: (() => void) | undefined = () => execFileSync('umount', [state]);
  const cache = join(p.root, 'out', 'cache', 'artifacts');
  let unmountCache: (() => void) | undefined;
  t.teardown(() => { unmountState?.(); unmountCache?.(); });

  const ro = await p.eksd(['release']);
  t.is(ro.code, 1, ro.stderr);
  const roReport = errorReport(ro.stderr);
  t.is(roReport.length, 2, ro.stderr);
  t.regex(roReport[0]!, /^eksd release: FS_NOT_WRITABLE: cannot write out\/state\/\S+: read-only file system \(EROFS\) \(at out\/state\/\S+\)$/);
  t.regex(roReport[1]!, /^ {2}hint: make it writable .*then run the same command again: it resumes where this run stopped$/);
  noStack(t, ro.stderr);
  t.deepEqual(await pushed(p), [], 'nothing was pushed');
  unmountState();
  unmountState = undefined;

  await p.seed();
  unmountCache = mountTmpfs(cache, '64k');
  mkdirSync(join(cache, 'sha256'));
  fill(cache);
  const full = await p.eksd(['release', '--until', 'publish']);
  t.is(full.code, 1, full.stderr);
  const errorLines = errorReport(full.stderr);
  t.is(errorLines.length, 2, full.stderr);
  t.regex(errorLines[0]!, /^eksd release: FS_NO_SPACE: cannot write out\/cache\/artifacts\/sha256\/[0-9a-f]{64}: no space left on device \(ENOSPC\) \(at out\/cache\/artifacts\/sha256\/[0-9a-f]{64}\)$/);
  t.regex(errorLines[1]!, /free space on the file system holding it/);
  noStack(t, full.stderr);
  t.deepEqual(readdirSync(join(cache, 'sha256')), [], 'no partial download is left in the cache');
  t.deepEqual(await pushed(p), [], 'nothing was pushed');
  t.false(existsSync(join(state, 'locks', '1-33.lock')), 'the channel lock was released');
  const journal = JSON.parse(readFileSync(join(state, 'runs', '1-33', 'current.json'), 'utf8')) as { number: number };
  t.is(journal.number, 1);
  unmountCache();
  unmountCache = undefined;

  const again = await p.eksd(['release', '--until', 'publish', '--concurrency', '2']);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr, /resuming release 1 of channel 1-33/);
  t.true((await pushed(p)).length > 0, 'the resumed run published');
});

/** A loopback HTTP server answering each request with `handle(request number, req, res)`. */
async function serve(handle: (n: number, req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; requests: number[]; close: () => Promise<void> }> {
  const requests: number[] = [];
  const server = createServer((req, res) => { requests.push(Date.now()); handle(requests.length, req, res); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, requests,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function spec(content: Buffer, extra: Partial<ArtifactSpec> = {}): ArtifactSpec {
  return {
    component: 'demo', project: 'demo', gitTag: 'v1.0.0', name: 'demo.bin', platform: 'linux/amd64', os: 'linux',
    sha256: createHash('sha256').update(content).digest('hex'), sha512: createHash('sha512').update(content).digest('hex'),
    description: 'demo', release: true, contains: [], where: 'images/demo/component.yaml:5:5 artifacts[0]', ...extra,
  };
}

test.serial('7. artifact downloads retry 503/429/network errors with backoff and Retry-After, and abandon an attempt that stalls', async (t) => {
  const content = randomBytes(256 * 1024);
  const fast: FetchOptions = { attempts: 5, backoffMs: 20, stallMs: 1000 };
  const flaky = await serve((n, _req, res) => {
    if (n === 1) { res.writeHead(503, { 'retry-after': '1' }); res.end(); return; }
    if (n === 2) { res.writeHead(429, { 'retry-after': '0' }); res.end(); return; }
    if (n === 3) { res.destroy(); return; }
    res.writeHead(200, { 'content-length': String(content.length) });
    if (n === 4) { res.write(content.subarray(0, 1000)); return; } // then nothing: a stalled transfer
    res.end(content);
  });
  t.teardown(() => flaky.close());
  const lines: string[] = [];
  const cache = await scratch();
  const [got] = await fetchArtifacts([spec(content)], flaky.url, cache, (l) => lines.push(l), fast);
  t.deepEqual(readFileSync(got!.path), content);
  t.is(flaky.requests.length, 5);
  t.true(flaky.requests[1]! - flaky.requests[0]! >= 950, 'Retry-After: 1 was honoured');
  t.regex(lines.join('\n'), /retrying demo\/demo.bin in 1\.0s \(attempt 2 of 5\): HTTP 503/);
  t.regex(lines.join('\n'), /attempt 3 of 5\): HTTP 429/);
  t.regex(lines.join('\n'), /attempt 4 of 5\): fetch failed/);
  t.regex(lines.join('\n'), /attempt 5 of 5\): no data received for 1s/);

  const missing = await serve((_n, _req, res) => { res.writeHead(404); res.end(); });
  t.teardown(() => missing.close());
  const notFound = await t.throwsAsync(fetchArtifacts([spec(content)], missing.url, await scratch(), () => {}, fast), { instanceOf: EksdError });
  t.is(missing.requests.length, 1, 'a 404 is not retried');
  t.regex(notFound!.message, /demo\/demo\.bin: cannot fetch: HTTP 404/);
  t.is(notFound!.where, `${missing.url}/demo/v1.0.0/demo.bin`);

  const stalled = await serve((_n, _req, res) => { res.writeHead(200, { 'content-length': String(content.length) }); res.write(content.subarray(0, 10)); });
  t.teardown(() => stalled.close());
  const stallCache = await scratch();
  const stall = await t.throwsAsync(fetchArtifacts([spec(content)], stalled.url, stallCache, () => {}, { attempts: 2, backoffMs: 10, stallMs: 300 }), { instanceOf: EksdError });
  t.regex(stall!.message, /cannot fetch: no data received for 0\.3s \(after 2 attempts\)/);
  t.is(stalled.requests.length, 2);
  t.deepEqual(readdirSync(join(stallCache, 'sha256')), [], 'no partial file is left in the cache');
});

test('8. two runs sharing the artifact cache never see a half-extracted folder', async (t) => {
  const source = await scratch();
  const entries = Array.from({ length: 1500 }, (_, i) => ({ name: `pkg/bin/file-${String(i).padStart(4, '0')}`, content: randomBytes(2048) }));
  const tarball = await tarGzBuffer(entries);
  const a = spec(tarball, { name: 'pkg.tar.gz', stage: 'pkg', contains: ['pkg/bin/file-0000', 'pkg/bin/file-1499'] });
  mkdirSync(join(source, 'demo', 'v1.0.0'), { recursive: true });
  writeFileSync(join(source, 'demo', 'v1.0.0', 'pkg.tar.gz'), tarball);
  const cache = await scratch();
  const dir = join(cache, 'extracted', a.sha256);
  // The download is cached first, so both runs go straight to extracting.
  const { stage: _stage, ...unstaged } = a;
  await fetchArtifacts([unstaged], `file://${source}`, cache);
  t.false(existsSync(dir));

  const script = join(await scratch(), 'extract.mts');
  writeFileSync(script, [
    `import { fetchArtifacts } from ${JSON.stringify(join(REPO_ROOT, 'pipeline', 'resolve', 'artifacts.ts'))};`,
    `const [r] = await fetchArtifacts([${JSON.stringify(a)}], ${JSON.stringify(`file://${source}`)}, ${JSON.stringify(cache)});`,
    'process.stdout.write(r.extracted);',
  ].join('\n'));
  const run = () => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import=tsx', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('close', (code) => resolve({ code, out, err }));
  });
  let done = false;
  let seenComplete = 0;
  const partial: number[] = [];
  const watch = (async () => {
    while (!done) {
      if (existsSync(dir)) {
        let files = -1;
        try { files = readdirSync(join(dir, 'pkg', 'bin')).length; } catch { /* not there: partial */ }
        if (files !== entries.length || !existsSync(join(dir, '.complete'))) partial.push(files);
        else seenComplete++;
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  const results = await Promise.all([run(), run()]);
  done = true;
  await watch;
  for (const r of results) {
    t.is(r.code, 0, r.err);
    t.is(r.out, dir);
  }
  t.deepEqual(partial, [], 'the extracted folder was never seen partial');
  t.true(seenComplete > 0);
  t.is(readdirSync(join(dir, 'pkg', 'bin')).length, entries.length);
  t.deepEqual(readdirSync(join(cache, 'extracted')), [a.sha256], 'no temporary folder is left');
  t.deepEqual(readFileSync(join(dir, 'pkg', 'bin', 'file-0000')), entries[0]!.content);
});

test('8b. a stale half-extracted folder from an older cache is replaced, not used', async (t) => {
  const source = await scratch();
  const tarball = await tarGzBuffer([{ name: 'x/one', content: Buffer.from('one') }, { name: 'x/two', content: Buffer.from('two') }]);
  const a = spec(tarball, { name: 'x.tar.gz', stage: 'x', contains: ['x/one', 'x/two'] });
  mkdirSync(join(source, 'demo', 'v1.0.0'), { recursive: true });
  writeFileSync(join(source, 'demo', 'v1.0.0', 'x.tar.gz'), tarball);
  const cache = await scratch();
  const dir = join(cache, 'extracted', a.sha256);
  mkdirSync(join(dir, 'x'), { recursive: true });
  writeFileSync(join(dir, 'x', 'one'), 'partial');
  const [r] = await fetchArtifacts([a], `file://${source}`, cache);
  t.is(r!.extracted, dir);
  t.is(readFileSync(join(dir, 'x', 'one'), 'utf8'), 'one');
  t.is(readFileSync(join(dir, 'x', 'two'), 'utf8'), 'two');
  t.deepEqual(readdirSync(join(cache, 'extracted')), [a.sha256]);
});

test('9. stdout (summaries, --json) and errors are redacted: registered secrets, credentials and URL userinfo', async (t) => {
  const p = await project();
  const e = edit(p, ETCD, '    description: etcd container image', '    description: "etcd image, mirrored from https://bob:s3cr3t-pw@mirror.example.com/etcd with token=abcdef123456"');
  const json = await p.eksd(['catalog', '--json']);
  e.restore();
  t.is(json.code, 0, json.stderr);
  t.false(json.stdout.includes('s3cr3t-pw'), 'URL userinfo is not printed');
  t.false(json.stdout.includes('abcdef123456'), 'a token is not printed');
  t.true(json.stdout.includes('https://***@mirror.example.com/etcd with token=***'), json.stdout.slice(0, 2000));
  const err = await p.eksd(['catalog'], { env: { EKSD_ARTIFACTS_URL: 'ftp://alice:pa55w0rd-x@artifacts.example.com/src' } });
  t.is(err.code, 2);
  t.false(err.stderr.includes('pa55w0rd-x'));
  t.regex(err.stderr, /ftp:\/\/\*\*\*@artifacts\.example\.com\/src/);
  await nothingWritten(t, p);
});

test('10. registry digests reach GITHUB_OUTPUT and the step summary only validated: no newline injection', async (t) => {
  const p = await project();
  const index = JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 10, digest: 'sha256:abc\nchanged=false', platform: { os: 'linux', architecture: 'amd64' } }],
  });
  const registry = await serve((_n, req, res) => {
    if (req.url === '/v2/' || req.url === '/v2') { res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' }); res.end('{}'); return; }
    if (req.url === '/v2/fake/amazonlinux/manifests/2') {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'docker-content-digest': `sha256:${createHash('sha256').update(index).digest('hex')}`, 'content-length': String(Buffer.byteLength(index)) });
      res.end(req.method === 'HEAD' ? undefined : index);
      return;
    }
    res.writeHead(404); res.end();
  });
  t.teardown(() => registry.close());
  const pin = join(p.root, 'out', 'local', 'base-pin.yaml');
  const host = registry.url.replace('http://', '');
  writeFileSync(pin, stringify({ upstream: { reference: `${host}/fake/amazonlinux:2`, digest: null } }));
  const pinned = readFileSync(pin, 'utf8');
  const out = join(await scratch(), 'output');
  const summary = join(await scratch(), 'summary');
  for (const args of [['watch-base'], ['watch-base', '--write']]) {
    const r = await p.eksd(args, { env: { GITHUB_OUTPUT: out, GITHUB_STEP_SUMMARY: summary } });
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, /REGISTRY_INVALID_DIGEST: the registry answered .*fake\/amazonlinux:2 with manifests\[0\]\.digest "sha256:abc\\nchanged=false", not a sha256 digest/);
    t.false(existsSync(out), 'GITHUB_OUTPUT was not written');
    t.is(readFileSync(pin, 'utf8'), pinned, 'the pin was not written');
  }

  // The writers themselves check every value before appending anything.
  const file = join(await scratch(), 'gh-output');
  t.throws(() => appendGithubOutput({ changed: 'true', digest: 'sha256:abc\nchanged=false' }, { digests: ['digest'], file }), { message: /GITHUB_OUTPUT digest "sha256:abc\\nchanged=false" is not a sha256 digest/ });
  t.throws(() => appendGithubOutput({ note: 'a\nb=c' }, { file }), { message: /contains a line break/ });
  t.false(existsSync(file));
  appendGithubOutput({ changed: 'true', digest: `sha256:${'a'.repeat(64)}` }, { digests: ['digest'], file });
  t.is(readFileSync(file, 'utf8'), `changed=true\ndigest=sha256:${'a'.repeat(64)}\n`);
  const result = {
    plan: { release: 'kubernetes-1-33-eks-1' }, ms: 1000, resumed: false,
    images: [{ plan: { name: 'etcd', platforms: ['linux/amd64'], tags: { versioned: 'v1-eks-1-33-1', floating: [] } }, platforms: { 'linux/amd64': { built: true, ms: 10 } }, index: { digest: 'sha256:abc\n## injected' } }],
    release: { name: 'kubernetes-1-33-eks-1', manifestPath: 'm.yaml', written: true, announcement: { skipped: false, via: 'sns', messageId: 'id\n## injected' } },
  } as unknown as RunResult;
  t.throws(() => writeStepSummary(result, summary), { instanceOf: EksdError, message: /index digest of etcd .* is not a sha256 digest/ });
  (result.images[0]!.index as { digest: string }).digest = `sha256:${'b'.repeat(64)}`;
  t.throws(() => writeStepSummary(result, summary), { instanceOf: EksdError, message: /contains a line break/ });
  t.false(existsSync(summary), 'the step summary was not written');
});

test('credentials in artifacts.baseUrl are sent as Basic auth and never shown', async (t) => {
  const content = Buffer.from('artifact behind basic auth\n');
  const user = 'release-bot';
  const password = 'p@ss:w0rd/with%chars';
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const seen: Array<string | undefined> = [];
  const server = await serve((_n, req, res) => {
    seen.push(req.headers.authorization);
    if (req.headers.authorization !== expected) { res.writeHead(401, { 'www-authenticate': 'Basic realm="artifacts"' }); res.end(); return; }
    res.writeHead(200, { 'content-length': String(content.length) });
    res.end(content);
  });
  t.teardown(() => server.close());
  // A stall window well above a loaded machine's first-request latency: this test counts requests, so a stall retry must not happen.
  const fast: FetchOptions = { attempts: 2, backoffMs: 20, stallMs: 15_000 };
  const withCredentials = (pw: string): string => server.url.replace('http://', `http://${user}:${encodeURIComponent(pw)}@`);
  const lines: string[] = [];
  const [got] = await fetchArtifacts([spec(content)], withCredentials(password), await scratch(), (l) => lines.push(l), fast);
  t.deepEqual(readFileSync(got!.path), content);
  t.deepEqual(seen, [expected], 'one request, with the Authorization header');

  const refused = await t.throwsAsync(fetchArtifacts([spec(content)], withCredentials('wrong-password'), await scratch(), (l) => lines.push(l), fast), { instanceOf: EksdError });
  t.regex(refused!.message, /HTTP 401 \(the user and password of artifacts\.baseUrl were refused/);
  t.is(refused!.where, `${server.url}/demo/v1.0.0/demo.bin`, 'the URL is named without its credentials');
  const anonymous = await t.throwsAsync(fetchArtifacts([spec(content)], server.url, await scratch(), () => {}, fast), { instanceOf: EksdError });
  t.regex(anonymous!.message, /HTTP 401 \(the source wants credentials/);
  const shown = [refused!.describe(), anonymous!.describe(), ...lines].join('\n');
  for (const secret of [password, encodeURIComponent(password), 'wrong-password', expected.slice('Basic '.length), user]) {
    t.false(shown.includes(secret), `${secret} is not shown`);
  }
});

test('a base pin whose per-platform digest is not the one the pinned index lists stops the release before any side effect', async (t) => {
  const p = await project();
  await p.seed();
  const pinFile = p.config().basePin;
  const pin = parse(readFileSync(pinFile, 'utf8')) as { upstream: { digest: string; platforms: Record<string, string> } };
  const { 'linux/amd64': amd64, 'linux/arm64': arm64 } = pin.upstream.platforms;
  t.truthy(amd64 && arm64 && amd64 !== arm64);
  pin.upstream.platforms['linux/amd64'] = arm64!; // the arm64 image pinned as amd64: the index lists another digest
  writeFileSync(pinFile, stringify(pin));

  const r = await p.eksd(['release']);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /PIN_PLATFORM_MISMATCH: /);
  t.true(r.stderr.includes(`linux/amd64: the pin has ${arm64}, the index lists ${amd64}`), r.stderr);
  t.true(r.stderr.includes(pin.upstream.digest), 'names the pinned index');
  t.regex(r.stderr, /base-pin\.yaml/);
  t.regex(r.stderr, /hint: .*eksd watch-base --write/);
  t.false(r.stderr.includes('linux/arm64:'), 'the platform that matches is not reported');
  for (const dir of [join('out', 'state'), join('out', 'site'), join('out', 'cache', 'artifacts'), join('out', 'announcements')]) {
    t.false(existsSync(join(p.root, dir)), `${dir} was not written`);
  }
  t.deepEqual((await repositoriesOf(p)).filter((r) => !r.endsWith('/amazonlinux')), [], 'nothing pushed');

  pin.upstream.platforms['linux/amd64'] = amd64!;
  writeFileSync(pinFile, stringify(pin));
  const ok = await p.eksd(['release', '--dry-run']);
  t.is(ok.code, 0, ok.stderr);
});
