/**
 * The registry client's HTTP exchange (registry/wire.ts) against loopback servers: a blob redirected to
 * another origin arrives checked and without the registry's Authorization; connections to the distribution
 * registry are reused; a body
 * that stops moving ends with a timeout; a body that breaks off mid-stream fails the read.
 */
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
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
