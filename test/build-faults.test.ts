/**
 * The engine's own registry reads survive registry faults: parents reach BuildKit through our loopback
 * endpoint (pipeline/builders/buildkit/parent-proxy.ts), so a 500, 503, 429 or reset meets our client's retries
 * instead of failing the build. Against the real dockerd and registry: single builds through a fault
 * proxy, the endpoint's refusals, and full-catalog releases at 30% and 100% faults.
 */
import anyTest, { type TestFn } from 'ava';
import Docker from 'dockerode';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { BuildKitBuilder, type BuildRequest } from '../pipeline/builders/buildkit/builder.ts';
import { engineAddress, engineReaches } from '../pipeline/builders/buildkit/engine.ts';
import { exportImage, realParentNames } from '../pipeline/builders/buildkit/export.ts';
import { proxiedName } from '../pipeline/builders/buildkit/parent-grants.ts';
import { startParentProxy } from '../pipeline/builders/buildkit/parent-proxy.ts';
import type { TraceEvent } from '../pipeline/builders/buildkit/trace.ts';
import { isEksdError } from '../pipeline/errors.ts';
import { RegistryClient, digestOf } from '../pipeline/registry/index.ts';
import { projectBehindProxy, startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts';
import { makeProject, repositoriesOf, LOCAL_REGISTRY, REPO_ROOT, type TestProject } from './helpers/project.ts';
import { buildIndex, pushTestImage, type TestIndex } from './helpers/registry.ts';

interface Ctx { docker: Docker; tags: string[]; proxies: FaultProxy[]; projects: TestProject[]; cacheDir: string }
const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const p = await makeProject({ catalog: 'mini' }); // brings the local environment up
  t.context = { docker: new Docker({ socketPath: p.config().dockerSocket }), tags: [], proxies: [], projects: [p],
    cacheDir: mkdtempSync(join(tmpdir(), 'eksd-build-faults-')) };
});

test.after.always(async (t) => {
  const { docker, tags, proxies, projects, cacheDir } = t.context;
  for (const tag of tags) await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
  await Promise.all(proxies.map((p) => p.stop()));
  await Promise.all(projects.map((p) => p.cleanup()));
  rmSync(cacheDir, { recursive: true, force: true });
});

async function faultProxy(t: { context: Ctx }, probability: number, seed: number, o: Partial<Parameters<typeof startFaultProxy>[0]> = {}): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ target: LOCAL_REGISTRY, probability, seed, ...o });
  t.context.proxies.push(proxy);
  return proxy;
}

/** A parent no engine has seen: several layers per platform, no history (so BuildKit writes its name into the child's). */
async function freshParent(): Promise<{ repository: string; index: TestIndex }> {
  const seed = randomBytes(6).toString('hex');
  const index = buildIndex({ seed, layerSizes: [400_000, 200_000, 100_000, 50_000, 10_000, 1000] });
  const repository = `build-faults/${seed}/parent`;
  await pushTestImage(new RegistryClient({ registry: LOCAL_REGISTRY }), repository, index);
  return { repository, index };
}

function context(dockerfile: string): Readable {
  const tar = pack();
  tar.entry({ name: 'Dockerfile', mode: 0o644, mtime: new Date(0) }, dockerfile);
  tar.entry({ name: 'probe', mode: 0o644, mtime: new Date(0) }, randomBytes(32).toString('hex'));
  tar.finalize();
  return Readable.from(tar);
}

/** Opens a new TCP connection to host:port: 'connected', or the error code (ECONNREFUSED once nothing listens). */
function connectionTo(host: string): Promise<string> {
  const [address, port] = host.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host: address!, port: Number(port) });
    socket.once('connect', () => { socket.destroy(); resolve('connected'); });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

const CHILD = 'ARG BASE_IMAGE\nFROM $BASE_IMAGE\nCOPY probe /probe\n';

function request(t: { context: Ctx }, platform: string, parents: BuildRequest['parents']): BuildRequest {
  const tag = `eksd-test/build-faults:${randomBytes(6).toString('hex')}`;
  t.context.tags.push(tag);
  return { image: 'faults-probe', platform, context: context(CHILD), dockerfile: 'Dockerfile', buildArgs: {}, parents, tag };
}

/** Retries a little quicker than a release's client, so the test stays short; the policy is otherwise the default one. */
const clientFor = (registry: string, attempts = 8): RegistryClient => new RegistryClient({ registry, retry: { attempts, baseMs: 50, maxMs: 1000 } });

test.serial('a build whose parent is read through a registry failing 30% of requests succeeds, for both platforms', async (t) => {
  const { repository, index } = await freshParent();
  const proxy = await faultProxy(t, 0.3, 31);
  const client = clientFor(proxy.host);
  const builder = new BuildKitBuilder(t.context.docker, { parentsOnLoopback: true });
  t.teardown(() => builder.close());
  const events: TraceEvent[] = [];
  for (const [i, platform] of ['linux/amd64', 'linux/arm64'].entries()) {
    const result = await builder.build(request(t, platform, { BASE_IMAGE: { client, repository, digest: index.digest } }), (e) => events.push(e));
    // The engine read the parent under the endpoint's token, and the endpoint closed when the build ended.
    const proxied = result.parentNames[0]![0];
    t.regex(proxied, /^127\.0\.0\.1:\d+\/[0-9a-f]{32}\/127\.0\.0\.1-\d+\//);
    t.is(await connectionTo(proxied.split('/')[0]!), 'ECONNREFUSED', 'closed after the build');
    const parentDiffIds = index.images[i]!.layers.length;
    const exported = await exportImage(t.context.docker, result.imageId, undefined, t.context.cacheDir, result.parentNames);
    const config = JSON.parse(exported.config.toString('utf8')) as { architecture: string; rootfs: { diff_ids: string[] }; history: Array<{ created_by?: string }> };
    t.is(config.architecture, platform.split('/')[1]);
    t.is(config.rootfs.diff_ids.length, parentDiffIds + 1, 'the parent\'s layers and the COPY');
    // BuildKit names the parent in the history of its undocumented layers; the export restores the real name.
    const pulled = config.history.filter((h) => h.created_by?.startsWith('pulled from ')).map((h) => h.created_by);
    t.true(pulled.length > 0, JSON.stringify(config.history));
    for (const line of pulled) t.is(line, `pulled from ${proxy.host}/${repository}@${index.digest}`);
    t.is(exported.configDigest, digestOf(exported.config));
  }
  const injected = Object.values(proxy.injected).reduce((a, b) => a + b, 0);
  t.true(injected > 0, `faults were injected (${JSON.stringify(proxy.injected)})`);
  const names = events.filter((e) => e.kind === 'step').map((e) => (e as { name: string }).name);
  t.true(names.some((n) => n.includes(`load metadata for ${proxy.host}/${repository}@${index.digest}`)), names.join('\n'));
  t.false(names.some((n) => /127\.0\.0\.1:\d+\/[0-9a-f]{32}\//.test(n)), 'no step names the loopback endpoint');
  t.log(`faults injected: ${JSON.stringify(proxy.injected)}; requests that reached the registry: ${JSON.stringify(proxy.forwarded)}`);
});

test.serial('at 100% faults the build fails within bounded time, with the real registry\'s error', async (t) => {
  const { repository, index } = await freshParent();
  const proxy = await faultProxy(t, 1, 5, { retryAfter: ['0'] });
  const builder = new BuildKitBuilder(t.context.docker, { parentsOnLoopback: true });
  t.teardown(() => builder.close());
  const started = Date.now();
  const e = await t.throwsAsync(builder.build(request(t, 'linux/amd64', { BASE_IMAGE: { client: clientFor(proxy.host, 4), repository, digest: index.digest } }), () => undefined));
  const elapsed = Date.now() - started;
  t.true(elapsed < 20_000, `took ${elapsed} ms`);
  t.true(isEksdError(e, 'BUILD_FAILED'), String(e));
  t.regex(e!.message, /^faults-probe linux\/amd64: the engine could not read a parent image: /);
  t.regex(e!.message, new RegExp(`${proxy.host}/${repository}@${index.digest}`));
  t.regex(e!.message, /gave up after 4 attempts/);
  t.notRegex(`${e!.message} ${(e as { where?: string }).where ?? ''}`, /127\.0\.0\.1-/);
  t.log(`failed after ${elapsed} ms: ${e!.message}`);
});

test('a remote engine (tcp://) pulls the parents from their registry itself', async (t) => {
  t.deepEqual(engineAddress('tcp://build-host.internal:2375'), { options: { host: 'build-host.internal', port: 2375, protocol: 'http' }, local: false });
  t.deepEqual(engineAddress('/run/eksd/docker.sock'), { options: { socketPath: '/run/eksd/docker.sock' }, local: true });
  t.deepEqual(engineAddress('unix:///var/run/docker.sock'), { options: { socketPath: '/var/run/docker.sock' }, local: true });
  t.throws(() => engineAddress('tcp://build-host.internal'), { message: /names no host and port/ });
  const endpoint = await startParentProxy();
  t.teardown(() => endpoint.close());
  t.true(await engineReaches(t.context.docker, endpoint.host, () => endpoint.stats.requests), 'the local engine reaches our loopback endpoint');
  t.false(await engineReaches(t.context.docker, '127.0.0.1:1', () => 0), 'nothing listens there');
  const { repository, index } = await freshParent();
  const builder = new BuildKitBuilder(t.context.docker); // what engineAt makes for a tcp:// engine
  const events: TraceEvent[] = [];
  const result = await builder.build(request(t, 'linux/amd64', { BASE_IMAGE: { client: clientFor(LOCAL_REGISTRY), repository, digest: index.digest } }), (e) => events.push(e));
  t.deepEqual(result.parentNames, []);
  t.true(events.some((e) => e.kind === 'step' && e.name.includes(`FROM ${LOCAL_REGISTRY}/${repository}@${index.digest}`)));
});

test('the endpoint serves granted parents by digest only, under its token, checks what it sends, and refuses the rest', async (t) => {
  const { repository, index } = await freshParent();
  // Another image in the same repository: the registry serves it, the endpoint must not.
  const other = buildIndex({ seed: randomBytes(6).toString('hex'), layerSizes: [3000, 1000] });
  await pushTestImage(new RegistryClient({ registry: LOCAL_REGISTRY }), repository, other);
  const proxy = await faultProxy(t, 0, 77, { faults: ['truncate'] });
  const endpoint = await startParentProxy();
  t.teardown(() => endpoint.close());
  const grant = await endpoint.serve({ client: clientFor(proxy.host), repository }, index.digest);
  proxy.setProbability(0.3); // the blob reads below meet cut-off bodies
  const { name } = grant;
  const token = /^127\.0\.0\.1:\d+\/([0-9a-f]{32})\//.exec(name)?.[1];
  t.truthy(token, name);
  t.is(name, `${endpoint.host}/${token}/${proxiedName(proxy.host, repository)}`);
  t.regex(name, /^127\.0\.0\.1:\d+\/[0-9a-f]{32}\/127\.0\.0\.1-\d+\/build-faults\//);
  const second = await startParentProxy();
  const secondName = (await second.serve({ client: clientFor(proxy.host), repository }, index.digest)).name;
  await second.close();
  t.not(secondName.split('/')[1], token, 'each endpoint has its own token');
  const url = (path: string): string => `http://${name.replace(/^([^/]+)\//, '$1/v2/')}${path}`;
  const base = `http://${endpoint.host}`;

  t.is((await fetch(`${base}/v2/`)).status, 200);
  const image = index.images[0]!;
  const head = await fetch(url(`/manifests/${image.digest}`), { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(head.headers.get('docker-content-digest'), image.digest);
  t.is(head.headers.get('content-type'), image.mediaType);
  t.is(Number(head.headers.get('content-length')), image.bytes.length);
  t.deepEqual(Buffer.from(await (await fetch(url(`/manifests/${image.digest}`))).arrayBuffer()), image.bytes);
  for (const layer of image.layers) {
    const res = await fetch(url(`/blobs/${layer.digest}`));
    t.is(res.status, 200);
    t.is(digestOf(Buffer.from(await res.arrayBuffer())), layer.digest);
  }
  t.true((proxy.injected.truncate ?? 0) > 0 && endpoint.stats.blobRestarts > 0, `bodies cut off mid-way were read again (${JSON.stringify(endpoint.stats)})`);
  t.is(Number((await fetch(url(`/blobs/${image.layers[0]!.digest}`), { method: 'HEAD' })).headers.get('content-length')), image.layers[0]!.size);

  const missing = `sha256:${'0'.repeat(64)}`;
  t.is((await fetch(url(`/manifests/${missing}`))).status, 404, 'a digest the registry does not have');
  t.is((await fetch(url('/manifests/latest'))).status, 404, 'no tags');
  t.is((await fetch(url('/tags/list'))).status, 404);
  t.is((await fetch(`${base}/v2/_catalog`)).status, 404);
  t.is((await fetch(`${base}/v2/elsewhere/repo/manifests/${image.digest}`)).status, 404, 'only registered parents');
  t.is((await fetch(url(`/manifests/${image.digest}`), { method: 'PUT', body: new Uint8Array(image.bytes) })).status, 405);
  t.is((await fetch(url('/blobs/uploads/'), { method: 'POST' })).status, 405);
  t.is((await fetch(url(`/manifests/${image.digest}`), { method: 'DELETE' })).status, 405);
  t.true(endpoint.stats.refused >= 7);

  // Only this parent's own content: the index, its manifests, their configs and layers.
  const image1 = index.images[1]!;
  for (const path of [`/manifests/${index.digest}`, `/manifests/${image1.digest}`, `/blobs/${image1.config.digest}`, `/blobs/${image1.layers[0]!.digest}`]) {
    t.is((await fetch(url(path), { method: 'HEAD' })).status, 200, path);
  }
  const direct = `http://${LOCAL_REGISTRY}/v2/${repository}`;
  for (const path of [`/manifests/${other.digest}`, `/manifests/${other.images[0]!.digest}`, `/blobs/${other.images[0]!.config.digest}`, `/blobs/${other.images[0]!.layers[0]!.digest}`]) {
    t.is((await fetch(`${direct}${path}`, { method: 'HEAD', headers: { accept: `${other.mediaType}, ${other.images[0]!.mediaType}` } })).status, 200, `the registry has ${path}`);
    t.is((await fetch(url(path), { method: 'HEAD' })).status, 404, `not a parent's: ${path}`);
  }
  // Without the token, or with another one, the name is unknown.
  t.is((await fetch(`${base}/v2/${proxiedName(proxy.host, repository)}/manifests/${index.digest}`)).status, 404, 'without the token');
  t.is((await fetch(`${base}/v2/${'0'.repeat(32)}/${proxiedName(proxy.host, repository)}/manifests/${index.digest}`)).status, 404, 'another token');
  // Released: no longer served; closed: no longer listening.
  grant.release();
  t.is((await fetch(url(`/manifests/${index.digest}`), { method: 'HEAD' })).status, 404, 'released');
  t.is(await connectionTo(endpoint.host), 'connected');
  await endpoint.close();
  t.is(await connectionTo(endpoint.host), 'ECONNREFUSED', 'closed');

  // The config of a child reads as if the parent had been pulled from its registry.
  const config = Buffer.from(JSON.stringify({ history: [{ created_by: `pulled from ${name}@${index.digest}` }] }));
  t.is(realParentNames(config, [[name, `${proxy.host}/${repository}`]]).toString(), JSON.stringify({ history: [{ created_by: `pulled from ${proxy.host}/${repository}@${index.digest}` }] }));
  t.is(realParentNames(config, []), config);
});

test('the endpoint does not keep the process alive', async (t) => {
  const script = [
    `import { startParentProxy } from ${JSON.stringify(join(REPO_ROOT, 'pipeline/builders/buildkit/parent-proxy.ts'))};`,
    'const endpoint = await startParentProxy();',
    'const res = await fetch(`http://${endpoint.host}/v2/`, { keepalive: true });',
    'await res.arrayBuffer();',
    'console.log(res.status);',
  ].join('\n');
  const started = Date.now();
  const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearTimeout(timer);
  t.is(code, 0, out);
  t.is(out.trim(), '200');
  t.true(Date.now() - started < 15_000, `exited after ${Date.now() - started} ms`);
});

// ---- full releases ------------------------------------------------------------------------------

const RELEASE = 'kubernetes-1-33-eks-1';
const ROUNDS = Number(process.env.EKSD_FAULT_ROUNDS ?? 2);

function announcements(p: TestProject): string[] {
  const dir = join(p.root, 'out', 'announcements');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

function siteFiles(p: TestProject): string[] {
  const dir = join(p.root, 'out', 'site');
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.yaml')).sort() : [];
}

/**
 * What users see of every image the project pushed: the index's base.name annotation names the registry
 * the parent really lives in, and no config (history, env, labels) names the engine's loopback endpoint.
 */
async function namesSeen(p: TestProject, registry: string): Promise<{ images: number; problems: string[] }> {
  const client = new RegistryClient({ registry: LOCAL_REGISTRY });
  const problems: string[] = [];
  let images = 0;
  for (const repository of (await repositoriesOf(p)).filter((r) => !r.endsWith('/amazonlinux'))) {
    // The image's tags, not the referrers tags (sha256-<hex>) its attestations are listed under.
    const tag = (await client.listTags(repository)).filter((x) => !x.startsWith('sha256-')).sort()[0]!;
    const index = await client.getManifest(repository, tag);
    const base = (index.json as { annotations?: Record<string, string> }).annotations?.['org.opencontainers.image.base.name'] ?? '';
    if (!base.startsWith(`${registry}/${p.ns}/`)) problems.push(`${repository}:${tag} base.name ${base}`);
    for (const m of index.json.manifests ?? []) {
      const manifest = await client.getManifest(repository, m.digest);
      const config = (await client.getBlob(repository, manifest.json.config!.digest)).toString('utf8');
      images++;
      if (/127\.0\.0\.1-\d+\//.test(config) || !config.includes('"history"')) problems.push(`${repository}@${m.digest} config: ${config.slice(0, 300)}`);
    }
  }
  return { images, problems };
}

async function projectThrough(t: { context: Ctx }, proxy: FaultProxy): Promise<TestProject> {
  const p = await makeProject({ catalog: 'full' });
  t.context.projects.push(p);
  await projectBehindProxy(p, proxy.host);
  proxy.resetCounts();
  return p;
}

test.serial(`a full-catalog release through a registry failing 30% of requests completes in one run and verifies (${ROUNDS} rounds)`, async (t) => {
  for (let round = 1; round <= ROUNDS; round++) {
    // Odd rounds draw Retry-After 0 or 1 s for 429/503 (a 429's pause holds every request to the host, about
    // a minute in all), even rounds Retry-After 0: the same faults in half the time.
    const proxy = await faultProxy(t, 0.3, 1000 + round, { retryAfter: round % 2 ? ['0', '1'] : ['0'] });
    const p = await projectThrough(t, proxy);
    const started = Date.now();
    const r = await p.eksd(['release', '--events', 'plain']);
    const ms = Date.now() - started;
    t.is(r.code, 0, `round ${round}: ${r.stderr.slice(-4000)}`);
    if (r.code !== 0) return;
    t.deepEqual(announcements(p), [`${RELEASE}.json`], `round ${round}: announced once`);
    t.true(siteFiles(p).includes(join('kubernetes-1-33', `${RELEASE}.yaml`)), `round ${round}: ${siteFiles(p).join(', ')}`);
    const injected = Object.values(proxy.injected).reduce((a, b) => a + b, 0);
    t.true(injected > 20, `round ${round}: faults were injected (${JSON.stringify(proxy.injected)})`);
    t.true((proxy.forwarded['blob-get'] ?? 0) > 0, 'the engine read parents through the faulty registry');
    proxy.setProbability(0);
    const v = await p.eksd(['verify', RELEASE]);
    t.is(v.code, 0, `round ${round}: ${v.stdout}\n${v.stderr}`);
    const seen = await namesSeen(p, proxy.host);
    t.deepEqual(seen.problems, [], `round ${round}`);
    t.is(seen.images, 46, '23 images x 2 platforms');
    t.log(`round ${round}: released in ${(ms / 1000).toFixed(1)} s with ${injected} faults injected (${JSON.stringify(proxy.injected)}); ${v.stdout.trim()}`);
  }
});

test.serial('at 100% faults the release fails cleanly within bounded time: nothing announced, no Release manifest', async (t) => {
  const proxy = await faultProxy(t, 1, 9);
  const p = await projectThrough(t, proxy);
  const started = Date.now();
  const r = await p.eksd(['release', '--events', 'plain'], { timeoutMs: 180_000 });
  const ms = Date.now() - started;
  t.is(r.code, 1, r.stderr.slice(-3000));
  // The host's budget gives up on the registry as a whole (10 s of failures in a row), whichever request meets it.
  t.true(ms < 30_000, `failed after ${ms} ms`);
  t.regex(r.stderr, new RegExp(`REGISTRY_HOST_DOWN: registry ${proxy.host} is given up on`));
  t.regex(r.stderr, /hint: check that .* is up and reachable/);
  t.deepEqual(announcements(p), []);
  t.false(siteFiles(p).some((f) => f.includes(RELEASE)), siteFiles(p).join(', '));
  t.log(`failed after ${(ms / 1000).toFixed(1)} s: ${r.stderr.split('\n').find((l) => /REGISTRY_HOST_DOWN/.test(l)) ?? ''}`);
});
