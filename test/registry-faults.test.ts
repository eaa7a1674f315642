import anyTest, { type TestFn } from 'ava';
import { createServer } from 'node:http';
import { isEksdError } from '../pipeline/errors.ts';
import { copy, emptyCopyStats, HostBudget, RegistryClient, type RegistryClientOptions } from '../pipeline/registry/index.ts';
import { RegistryError, statusError } from '../pipeline/registry/errors.ts';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts';
import { buildIndex, pushTestImage, startRegistry, type RunningRegistry, type TestIndex } from './helpers/registry.ts';

interface Ctx { a: RunningRegistry; b: RunningRegistry; idx: TestIndex; proxies: FaultProxy[] }
const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  const idx = buildIndex({ seed: 'faults', arches: ['amd64', 'arm64'], layerSizes: [200_000, 150_000, 50_000, 1000] });
  await pushTestImage(new RegistryClient({ registry: a.host }), 'faults/src', idx, 'v1');
  t.context = { a, b, idx, proxies: [] };
});

test.after.always(async (t) => {
  await Promise.all((t.context.proxies ?? []).map((p) => p.stop()));
  await Promise.all([t.context.a?.stop(), t.context.b?.stop()]);
});

async function proxy(t: { context: Ctx }, target: string, o: Partial<Parameters<typeof startFaultProxy>[0]>): Promise<FaultProxy> {
  const p = await startFaultProxy({ target, ...o });
  t.context.proxies.push(p);
  return p;
}

const patient = (registry: string, o: Partial<RegistryClientOptions> = {}): RegistryClient =>
  new RegistryClient({ registry, retry: { attempts: 12, baseMs: 5, maxMs: 200 }, timeoutMs: 5000, ...o });

/** Every manifest's bytes and every blob digest reachable from `ref`. */
async function snapshot(c: RegistryClient, repo: string, ref: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (r: string): Promise<void> => {
    const m = await c.getManifest(repo, r);
    out[m.digest] = m.bytes.toString('base64');
    for (const child of m.json.manifests ?? []) await walk(child.digest);
    for (const b of [m.json.config, ...(m.json.layers ?? [])]) if (b) out[b.digest] = String(await c.headBlob(repo, b.digest));
  };
  await walk(ref);
  return out;
}

test('30% faults: copying a multi-arch index across registries and within one is byte-identical to a clean copy', async (t) => {
  const { a, b, idx } = t.context;
  const clean = await copy({ from: { client: patient(a.host), repo: 'faults/src', ref: 'v1' }, to: { client: patient(b.host), repo: 'faults/clean' }, tags: ['v1'] });
  const pa = await proxy(t, a.host, { probability: 0.3, seed: 11, faults: [500, 503, 429, 'reset', 'truncate'] });
  const pb = await proxy(t, b.host, { probability: 0.3, seed: 12 });
  const src = patient(pa.host);
  const dst = patient(pb.host);
  const stats = emptyCopyStats();
  const noisy = await copy({ from: { client: src, repo: 'faults/src', ref: 'v1' }, to: { client: dst, repo: 'faults/noisy' }, tags: ['v1'], stats });
  t.is(noisy, idx.digest);
  t.is(clean, idx.digest);
  t.true(Object.values(pa.injected).reduce((x, y) => x + y, 0) + Object.values(pb.injected).reduce((x, y) => x + y, 0) > 5, 'faults were injected');
  const direct = patient(b.host);
  t.deepEqual(await snapshot(direct, 'faults/noisy', 'v1'), await snapshot(direct, 'faults/clean', 'v1'));
  t.is((await direct.headManifest('faults/noisy', 'v1'))?.digest, idx.digest);
  const same = await copy({ from: { client: dst, repo: 'faults/noisy', ref: 'v1' }, to: { client: dst, repo: 'faults/mounted' }, tags: ['v1'] });
  t.is(same, idx.digest);
  t.deepEqual(await snapshot(direct, 'faults/mounted', 'v1'), await snapshot(direct, 'faults/clean', 'v1'));
});

test('100% faults: the copy fails with a clear error within bounded time', async (t) => {
  const { a, b } = t.context;
  const pb = await proxy(t, b.host, { probability: 1, seed: 3, retryAfter: ['1'] });
  const lines: string[] = [];
  const dst = new RegistryClient({ registry: pb.host, retry: { attempts: 4, baseMs: 10, maxMs: 100, maxTotalMs: 2500 }, timeoutMs: 2000, log: (l) => lines.push(l) });
  const started = Date.now();
  const e = await t.throwsAsync(copy({ from: { client: patient(a.host), repo: 'faults/src', ref: 'v1' }, to: { client: dst, repo: 'faults/never' }, tags: ['v1'] }));
  const elapsed = Date.now() - started;
  t.true(elapsed < 8000, `took ${elapsed}ms`);
  t.true(isEksdError(e) && /^REGISTRY_(UNAVAILABLE|TOOMANYREQUESTS|NETWORK)$/.test(e.code), (e as { code?: string }).code);
  t.regex(e!.message, new RegExp(`${pb.host}/faults/never`));
  t.regex(e!.message, /gave up after \d+ attempts?/);
  t.true(lines.some((l) => l.startsWith('retry ')));
});

test('a host that fails every request is given up on as a whole: later requests fail at once, naming the host', async (t) => {
  const { b } = t.context;
  const pb = await proxy(t, b.host, { probability: 1, seed: 4, retryAfter: ['0'] });
  const c = new RegistryClient({ registry: pb.host, retry: { attempts: 8, baseMs: 20, maxMs: 100, maxTotalMs: 60_000 }, timeoutMs: 2000,
    hostBudget: { failures: 4, windowMs: 1000, coolDownMs: 60_000 } });
  const started = Date.now();
  const codes: string[] = [];
  let downAt = -1;
  for (let i = 0; i < 20; i++) {
    const e = await t.throwsAsync(c.headManifest('faults/down', `v${i}`));
    codes.push((e as { code?: string }).code ?? String(e));
    if (isEksdError(e, 'REGISTRY_HOST_DOWN') && downAt < 0) {
      downAt = i;
      t.regex(e.message, new RegExp(`^registry ${pb.host} is given up on: it failed 4 or more attempts in a row over 1s`));
      t.regex(e.message, new RegExp(`the last failure: head manifest ${pb.host}/faults/down:v\\d+ failed`));
      t.is(e.where, pb.host);
      t.regex(e.hint ?? '', /check that .* is up and reachable/);
    }
  }
  const elapsed = Date.now() - started;
  t.true(downAt >= 0, codes.join(', '));
  t.true(codes.slice(downAt).every((c) => c === 'REGISTRY_HOST_DOWN'), codes.join(', '));
  const reached = pb.received['manifest-head'] ?? 0;
  t.is((await t.throwsAsync(c.getManifest('faults/down', 'v1')) as { code?: string }).code, 'REGISTRY_HOST_DOWN');
  t.is(pb.received['manifest-head'] ?? 0, reached, 'a request to a host given up on is not sent');
  t.is(pb.received['manifest-get'] ?? 0, 0);
  // Each of 20 requests spending its own 8 attempts would take about 20 x 0.3 s; the host's budget ends it after 1 s or so.
  t.true(elapsed < 3000, `took ${elapsed} ms`);
  t.log(`given up on after ${downAt} requests; ${elapsed} ms for 20 requests; ${reached} requests reached the proxy`);
});

test('a host given up on is tried again after the cool-down, and a success takes it back', async (t) => {
  const { a } = t.context;
  const pa = await proxy(t, a.host, { probability: 1, seed: 5, retryAfter: ['0'] });
  const c = new RegistryClient({ registry: pa.host, retry: { attempts: 20, baseMs: 20, maxMs: 50 }, timeoutMs: 2000,
    hostBudget: { failures: 3, windowMs: 200, coolDownMs: 700 } });
  t.true(isEksdError(await t.throwsAsync(c.headManifest('faults/src', 'v1')), 'REGISTRY_HOST_DOWN'));
  pa.setProbability(0);
  t.true(isEksdError(await t.throwsAsync(c.headManifest('faults/src', 'v1')), 'REGISTRY_HOST_DOWN'), 'still given up on during the cool-down');
  await new Promise((r) => setTimeout(r, 800));
  t.is((await c.headManifest('faults/src', 'v1'))?.digest, t.context.idx.digest);
  t.is((await c.headManifest('faults/src', 'v1'))?.digest, t.context.idx.digest);
});

test('the host budget counts only failures the retries would retry, in a row, over the whole window', async (t) => {
  const ctx = { registry: 'registry.test', repository: 'r', reference: 'v1', operation: 'head manifest' };
  const unavailable = () => statusError(ctx, 503, '');
  const notFound = () => statusError(ctx, 404, '');
  const fails = (budget: HostBudget, e: () => Error) => budget.run(async () => { throw e(); }).catch((x: unknown) => (x as { code?: string }).code);
  const quick = new HostBudget('registry.test', { failures: 3, windowMs: 10_000, coolDownMs: 60_000 });
  for (let i = 0; i < 10; i++) t.is(await fails(quick, unavailable), 'REGISTRY_UNAVAILABLE', 'ten failures within the window: still tried');
  const alive = new HostBudget('registry.test', { failures: 3, windowMs: 30, coolDownMs: 60_000 });
  for (let i = 0; i < 6; i++) {
    t.is(await fails(alive, unavailable), 'REGISTRY_UNAVAILABLE');
    t.is(await fails(alive, unavailable), 'REGISTRY_UNAVAILABLE');
    await new Promise((r) => setTimeout(r, 40));
    t.is(await fails(alive, notFound), 'REGISTRY_NOT_FOUND', 'a 404 is an answer: the host is alive');
  }
  t.is(await alive.run(async () => 'ok'), 'ok');
  const dead = new HostBudget('registry.test', { failures: 3, windowMs: 30, coolDownMs: 60_000 });
  for (let i = 0; i < 2; i++) t.is(await fails(dead, unavailable), 'REGISTRY_UNAVAILABLE');
  await new Promise((r) => setTimeout(r, 40));
  t.is(await fails(dead, unavailable), 'REGISTRY_UNAVAILABLE', 'the third failure in a row past the window opens the breaker');
  t.is(await fails(dead, unavailable), 'REGISTRY_HOST_DOWN');
  let ran = false;
  t.is(await dead.run(async () => { ran = true; }).catch((x: unknown) => (x as { code?: string }).code), 'REGISTRY_HOST_DOWN');
  t.false(ran, 'nothing is sent to a host given up on');
  // A request whose retries ran out on the failure that made the host given up on ends with the host's error.
  const exhausted = new RegistryError('REGISTRY_UNAVAILABLE', 'head manifest failed (gave up after 12 attempts in 11.8s)', {
    where: 'registry.test/r:v1', hint: '', cause: unavailable(), retryable: false });
  t.is((dead.outcome(exhausted) as { code?: string }).code, 'REGISTRY_HOST_DOWN');
  t.regex((dead.outcome(exhausted) as Error).message, /^registry registry\.test is given up on: .*the last failure: head manifest registry\.test\/r:v1 failed \(HTTP 503\)/);
  t.is(alive.outcome(exhausted), exhausted, 'a host still tried: the request\'s own error');
  const notFoundError = notFound();
  t.is(dead.outcome(notFoundError), notFoundError, 'an answer is no failure of the host');
});

test('a body that does not match its digest is detected on GET and fails the copy', async (t) => {
  const { a, b, idx } = t.context;
  const pa = await proxy(t, a.host, { corruptBlobs: true });
  const src = patient(pa.host);
  const layer = idx.images[0]!.layers[0]!;
  const e = await t.throwsAsync(src.getBlob('faults/src', layer.digest));
  t.true(isEksdError(e, 'REGISTRY_DIGEST_MISMATCH'));
  t.regex(e!.message, new RegExp(`faults/src@${layer.digest}`));
  const e2 = await t.throwsAsync(copy({ from: { client: src, repo: 'faults/src', ref: 'v1' }, to: { client: patient(b.host), repo: 'faults/corrupt' } }));
  t.true(isEksdError(e2, 'REGISTRY_DIGEST_MISMATCH'), (e2 as { code?: string }).code);
  t.is(await patient(b.host).headManifest('faults/corrupt', idx.digest), undefined, 'nothing was tagged or indexed');
});

test('a registry that accepts connections but never answers times out with REGISTRY_TIMEOUT', async (t) => {
  const server = createServer(() => { /* never answers */ });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const host = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  try {
    const c = new RegistryClient({ registry: host, timeoutMs: 300, retry: { attempts: 2, baseMs: 10, maxMs: 20 } });
    const started = Date.now();
    const e = await t.throwsAsync(c.headManifest('slow/repo', 'v1'));
    t.true(isEksdError(e, 'REGISTRY_TIMEOUT'), (e as { code?: string }).code);
    t.regex(e!.message, new RegExp(`${host}/slow/repo:v1`));
    t.true(Date.now() - started < 3000);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
