/**
 * The registry client's HTTP exchange (registry/wire.ts) against loopback servers: a blob redirected to
 * another origin arrives checked and without the registry's Authorization; a manifest PUT redirected with
 * 307 is sent again with its bytes; connections to the distribution registry are reused; a body that stops
 * moving ends with a timeout and one that breaks off fails the read; an upload that fails closes its file;
 * a file shorter than its declared size fails at once; an upload refused early stops sending.
 */
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { isEksdError } from '../pipeline/errors.ts';
import { RegistryClient } from '../pipeline/registry/client.ts';
import { staticCredentials } from '../pipeline/registry/credentials.ts';
import { startLoopback, type LoopbackServer } from './helpers/loopback-server.ts';
import { startRegistry } from './helpers/registry.ts';

const blob = randomBytes(3 * 1024 * 1024 + 17);
const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
const host = (s: LoopbackServer): string => s.endpoint.replace('http://', '');

async function serve(t: import('ava').ExecutionContext, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<LoopbackServer> {
  const s = await startLoopback(async (req, res) => handle(req, res));
  t.teardown(() => s.stop());
  return s;
}

test('a blob redirected to another origin arrives checked, and the Authorization stays with the registry', async (t) => {
  const cdnSaw: Array<string | undefined> = [];
  const cdn = await serve(t, (req, res) => {
    cdnSaw.push(req.headers.authorization);
    res.writeHead(200, { 'content-length': String(blob.length) }).end(blob);
  });
  const registry = await serve(t, (req, res) => {
    if (!req.headers.authorization) { res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end(); return; }
    res.writeHead(307, { location: `${cdn.endpoint}/cdn/${digest}?signed=1` }).end();
  });
  const client = new RegistryClient({ registry: host(registry), credentials: staticCredentials({ username: 'u', password: 'wire-secret' }) });
  const chunks: Buffer[] = [];
  for await (const c of await client.getBlobStream('r', digest)) chunks.push(c as Buffer);
  t.true(Buffer.concat(chunks).equals(blob));
  t.true((await client.getBlob('r', digest)).equals(blob));
  t.deepEqual(cdnSaw, [undefined, undefined], 'the CDN never sees the registry credentials');
});

test('requests to one registry reuse their connections', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.stop());
  // A TCP relay in front of the registry counts the connections the client opens.
  let connections = 0;
  const open = new Set<Socket>();
  const relay = createServer((socket) => {
    connections++;
    open.add(socket);
    const upstream = connect(Number(registry.host.split(':').pop()), '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { relay.close(() => r()); for (const c of open) c.destroy(); }));
  const client = new RegistryClient({ registry: `127.0.0.1:${(relay.address() as AddressInfo).port}`, concurrency: 1 });
  for (let i = 0; i < 10; i++) {
    t.is(await client.headManifest('r', `v${i}`), undefined);
    await t.throwsAsync(client.getManifest('r', `v${i}`));
  }
  // A HEAD's connection returns to the pool a tick after its answer, so the GET right after it may open a second.
  t.true(connections <= 2, `20 requests one after another took ${connections} connections`);
});

test('a blob whose body stops moving times out; one that breaks off fails; neither passes as whole', async (t) => {
  const registry = await serve(t, (req, res) => {
    res.writeHead(200, { 'content-length': String(blob.length) });
    res.write(blob.subarray(0, 1024 * 1024));
    if (req.url?.includes('break')) setTimeout(() => res.destroy(), 50);
    // else: never another byte
  });
  const client = new RegistryClient({ registry: host(registry), timeoutMs: 400, retry: { attempts: 1 } });
  const read = async (repo: string): Promise<Error> => {
    const stream = await client.getBlobStream(repo, digest);
    return t.throwsAsync(async () => { for await (const _ of stream) { /* drain */ } }) as Promise<Error>;
  };
  const stalled = await read('stall');
  t.is(stalled.name, 'TimeoutError', stalled.message);
  const broken = await read('break');
  t.truthy(broken);
  const e = await t.throwsAsync(client.getBlob('stall', digest));
  t.true(isEksdError(e, 'REGISTRY_TIMEOUT'), (e as { code?: string }).code);
});

/** A registry that takes uploads at /upload and hands the PUT to `put`; blobs are unknown to HEAD. */
async function uploadServer(t: import('ava').ExecutionContext, put: (req: IncomingMessage, res: ServerResponse) => void): Promise<LoopbackServer> {
  return serve(t, (req, res) => {
    if (req.method === 'HEAD') res.writeHead(404, { 'content-length': '0' }).end();
    else if (req.method === 'POST') res.writeHead(202, { location: '/upload/1', 'content-length': '0' }).end();
    else put(req, res);
  });
}

async function blobFile(bytes: Buffer): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'eksd-wire-')), 'blob');
  writeFileSync(file, bytes);
  return file;
}

const openFiles = (): string[] => readdirSync('/proc/self/fd').map((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } });

test('an upload whose connection breaks closes the file it was reading', async (t) => {
  const registry = await uploadServer(t, (req) => { req.once('data', () => req.socket.destroy()); });
  const file = await blobFile(randomBytes(8 * 1024 * 1024));
  const client = new RegistryClient({ registry: host(registry), retry: { attempts: 2, baseMs: 1, maxMs: 2 } });
  await t.throwsAsync(client.pushBlob('r', { path: file }, { digest: `sha256:${'0'.repeat(64)}`, size: 8 * 1024 * 1024 }));
  await new Promise((r) => setTimeout(r, 100));
  t.false(openFiles().includes(file), 'no attempt left the file open');
});

test('a file shorter than its declared size fails the upload at once, not after the timeout', async (t) => {
  const registry = await uploadServer(t, (req) => { req.resume(); });
  const file = await blobFile(randomBytes(1000));
  const client = new RegistryClient({ registry: host(registry), timeoutMs: 5_000, retry: { attempts: 1 } });
  const started = Date.now();
  await t.throwsAsync(client.pushBlob('r', { path: file }, { digest: `sha256:${'1'.repeat(64)}`, size: 2000 }));
  t.true(Date.now() - started < 3_000, `failed after ${Date.now() - started} ms`);
});

// Serial: its 96 MiB must not hold up the timing of the tests beside it.
test.serial('an upload refused before its body is sent stops sending: the file is closed, the registry gets little of it, the error is its own', async (t) => {
  let received = 0;
  const registry = await uploadServer(t, (req, res) => {
    req.once('data', () => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'DIGEST_INVALID', message: 'refused early' }] })));
    req.on('data', (c: Buffer) => { received += c.byteLength; });
  });
  const size = 96 * 1024 * 1024;
  const file = await blobFile(Buffer.alloc(size, 7));
  const client = new RegistryClient({ registry: host(registry), retry: { attempts: 1 } });
  const e = await t.throwsAsync(client.pushBlob('r', { path: file }, { digest: `sha256:${'2'.repeat(64)}`, size }));
  t.regex(e!.message, /refused early|DIGEST_INVALID/);
  await new Promise((r) => setTimeout(r, 200));
  t.true(received < size / 2, `the registry received ${received} of ${size} bytes`);
  t.false(openFiles().includes(file), 'the file is closed');
});

test('a manifest PUT redirected with 307 is sent again, with its bytes, where it points', async (t) => {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }));
  const manifestDigest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const received: Buffer[] = [];
  const registry = await serve(t, (req, res) => {
    if (req.url === '/v2/r/manifests/v1') { res.writeHead(307, { location: '/v2/moved/manifests/v1', 'content-length': '0' }).end(); return; }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => { received.push(Buffer.concat(chunks)); res.writeHead(201, { 'docker-content-digest': manifestDigest, 'content-length': '0' }).end(); });
  });
  const client = new RegistryClient({ registry: host(registry) });
  t.is(await client.putManifest('r', 'v1', new Uint8Array(bytes), 'application/vnd.oci.image.manifest.v1+json'), manifestDigest);
  t.is(received.length, 1);
  t.true(received[0]!.equals(bytes));
});
