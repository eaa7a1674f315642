/**
 * The parents of our builds (BASE_IMAGE, BUILDER_IMAGE), served to the engine from 127.0.0.1. BuildKit
 * pulls FROM images with its own registry client, which does not retry: one 500, 429 or reset while it
 * loads a parent's metadata or layers fails the build. Here each of its requests is answered through
 * our RegistryClient, which retries (backoff, jitter, Retry-After), authenticates (an ECR Public token
 * stays with us: the engine needs no credentials) and checks every byte against its digest.
 *
 * A small read-only OCI distribution endpoint, plain http on a random loopback port (dockerd's BuildKit
 * speaks plain http to 127.0.0.1 without any insecure-registries setting). Any local process can reach
 * the port, and what it serves is read with our credentials, so it serves as little as it can for as
 * short as it can:
 * - only the parents of the builds that hold them (`serve` grants one until its build releases it), and
 *   of each parent only its own content: the index, the manifests it lists, their configs and layers.
 *   Any other digest of the same repository is refused (404), and so are tags, listings and uploads;
 * - under an unguessable name: the repository path starts with a random token made when the endpoint
 *   starts (`127.0.0.1:PORT/<token>/<registry>/<repository>`), and a name without it is unknown (404);
 * - only while builds run: the builder closes the endpoint when its last build ends (connections are
 *   then refused) and starts a new one, with a new port and token, for the next.
 * `GET /v2/` answers 200 (the engine asks it first). Neither the server nor its connections keep the
 * process alive; `close` ends them.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { EksdError, isEksdError } from '../../errors.ts';
import { DigestAccumulator, algorithmOf } from '../../image/digest.ts';
import type { ImageSource } from '../../registry/image.ts';
import { RegistryError } from '../../registry/errors.ts';
import type { Manifest } from '../../registry/manifests.ts';
import { isDigest } from '../../registry/reference.ts';

/** Where a parent really lives: the client of its registry and its repository there. */

/** A failure of the real registry while the engine was reading a parent through the proxy. */
export interface UpstreamFailure { name: string; at: number; error: EksdError }

export interface ParentProxyStats { requests: number; refused: number; failed: number; blobRestarts: number }

/** A parent served to one build: the name the engine pulls it from, until `release`. */
export interface ParentGrant {
  /** `127.0.0.1:PORT/<token>/<registry>/<repository>`: pull `<name>@<digest>`. */
  name: string;
  release(): void;
}

export interface ParentProxy {
  /** "127.0.0.1:PORT". */
  readonly host: string;
  readonly stats: ParentProxyStats;
  /**
   * Serves the parent `digest` of `source` (an index or a manifest, with what it lists) until the grant
   * is released. Reads the parent's manifests first: a registry failure fails here, before the build.
   */
  serve(source: ImageSource, digest: string): Promise<ParentGrant>;
  /** Failures of the real registries on these proxied repositories since `since` (ms since epoch). */
  failuresSince(since: number, repositories: string[]): UpstreamFailure[];
  close(): Promise<void>;
}

/** A blob whose download breaks mid-body is read again this many times in all (each read is retried on its own). */
const BLOB_READS = 4;
const API_HEADER = { 'docker-distribution-api-version': 'registry/2.0' };
const ROUTE = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/;

/** The proxied name of a registry's repository: the registry host as one path component, then the repository. */
export function proxiedName(registry: string, repository: string): string {
  return `${registry.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^[.-]+|[.-]+$/g, '')}/${repository}`;
}

/** Starts the endpoint on a free port of 127.0.0.1, under a new random token. */
export async function startParentProxy(): Promise<ParentProxy> {
  const sources = new Map<string, Served>();
  const manifests = new Map<string, Promise<Manifest>>();
  const failures: UpstreamFailure[] = [];
  const stats: ParentProxyStats = { requests: 0, refused: 0, failed: 0, blobRestarts: 0 };
  const sockets = new Set<Socket>();
  const ctx: Ctx = { sources, manifests, failures, stats };
  const server = createServer((req, res) => { void handle(ctx, req, res); });
  server.on('connection', (socket) => {
    socket.unref();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listen(server);
  server.unref();
  const host = `127.0.0.1:${port}`;
  const token = randomBytes(16).toString('hex');
  return {
    host, stats,
    serve: (source, digest) => grant(ctx, host, token, source, digest),
    failuresSince: (since, repositories) => failures.filter((f) => f.at >= since && repositories.includes(`${host}/${f.name}`)),
    close: () => new Promise<void>((resolve) => {
      sources.clear();
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A parent repository being served: where it lives, the digests it may serve, and how many builds hold it. */
interface Served { source: ImageSource; digests: Map<string, number>; holders: number }

interface Ctx {
  /** By name after the host: `<token>/<registry>/<repository>`. */
  sources: Map<string, Served>;
  manifests: Map<string, Promise<Manifest>>;
  failures: UpstreamFailure[];
  stats: ParentProxyStats;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (cause) => reject(new EksdError('BUILD_PARENT_PROXY', `cannot serve build parents on 127.0.0.1: ${cause.message}`, {
      where: '127.0.0.1', cause, hint: 'check that the loopback interface is up',
    })));
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
}

/** Registers the parent and every digest it is made of, for one build; undone by the grant's release. */
async function grant(ctx: Ctx, host: string, token: string, source: ImageSource, digest: string): Promise<ParentGrant> {
  const name = `${token}/${proxiedName(source.client.registry, source.repository)}`;
  const known = ctx.sources.get(name);
  if (known && (known.source.client.registry !== source.client.registry || known.source.repository !== source.repository)) {
    throw new EksdError('BUILD_PARENT_PROXY', `${source.client.describe(source.repository)} and ${known.source.client.describe(known.source.repository)} would share the name ${name}`, {
      where: name, hint: 'name the registries so that they differ in more than punctuation',
    });
  }
  const digests = await contentOf(ctx, name, source, digest);
  const served = ctx.sources.get(name) ?? { source, digests: new Map<string, number>(), holders: 0 };
  ctx.sources.set(name, served);
  served.holders++;
  for (const d of digests) served.digests.set(d, (served.digests.get(d) ?? 0) + 1);
  let released = false;
  return {
    name: `${host}/${name}`,
    release: () => {
      if (released) return;
      released = true;
      for (const d of digests) {
        const left = (served.digests.get(d) ?? 1) - 1;
        if (left > 0) served.digests.set(d, left); else served.digests.delete(d);
      }
      if (--served.holders === 0 && ctx.sources.get(name) === served) ctx.sources.delete(name);
    },
  };
}

/** The digests a parent is made of: itself, the manifests an index lists, and each manifest's config and layers. */
async function contentOf(ctx: Ctx, name: string, source: ImageSource, digest: string): Promise<string[]> {
  const out = new Set<string>([digest]);
  const walk = async (d: string, depth: number): Promise<void> => {
    const m = await manifestOf(ctx, name, source, d);
    const json = m.json as { manifests?: Array<{ digest: string }>; config?: { digest: string }; layers?: Array<{ digest: string }> };
    if (json.config) out.add(json.config.digest);
    for (const l of json.layers ?? []) out.add(l.digest);
    const children = depth === 0 ? (json.manifests ?? []).map((c) => c.digest) : [];
    for (const c of children) out.add(c);
    await Promise.all(children.map((c) => walk(c, depth + 1)));
  };
  await walk(digest, 0);
  return [...out];
}

/** Manifests are small and asked for by every build of a child: each is read once and kept while the endpoint runs. */
function manifestOf(ctx: Ctx, name: string, source: ImageSource, digest: string): Promise<Manifest> {
  const key = `${name}@${digest}`;
  let pending = ctx.manifests.get(key);
  if (!pending) {
    pending = source.client.getManifest(source.repository, digest);
    ctx.manifests.set(key, pending);
    pending.catch(() => ctx.manifests.delete(key));
  }
  return pending;
}

async function handle(ctx: Ctx, req: IncomingMessage, res: ServerResponse): Promise<void> {
  ctx.stats.requests++;
  req.resume();
  const path = new URL(req.url ?? '/', 'http://proxy').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(ctx, res, 405, 'UNSUPPORTED', 'read-only: GET and HEAD only');
  if (path === '/v2/' || path === '/v2') return answer(res, req, 200, { 'content-type': 'application/json' }, Buffer.from('{}'));
  const route = ROUTE.exec(path);
  const served = route ? ctx.sources.get(route[1]!) : undefined;
  if (!route || !served) return refuse(ctx, res, 404, 'NAME_UNKNOWN', 'only the parents of running builds are served here');
  const [, name, kind, reference] = route as unknown as [string, string, 'manifests' | 'blobs', string];
  const unknown = kind === 'manifests' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN';
  if (!isDigest(reference)) return refuse(ctx, res, 404, unknown, 'served by digest only');
  if (!served.digests.has(reference)) return refuse(ctx, res, 404, unknown, 'not part of a parent of a running build');
  const source = served.source;
  try {
    if (kind === 'manifests') await sendManifest(ctx, name, source, reference, req, res);
    else if (req.method === 'HEAD') await sendBlobHead(source, reference, res);
    else await sendBlob(ctx, source, reference, res);
  } catch (e) {
    upstreamFailed(ctx, name, e, res);
  }
}

function answer(res: ServerResponse, req: IncomingMessage, status: number, headers: Record<string, string>, body: Buffer): void {
  res.writeHead(status, { ...API_HEADER, ...headers, 'content-length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function errorBody(code: string, message: string): Buffer {
  return Buffer.from(JSON.stringify({ errors: [{ code, message }] }));
}

function refuse(ctx: Ctx, res: ServerResponse, status: number, code: string, message: string): void {
  ctx.stats.refused++;
  const body = errorBody(code, message);
  res.writeHead(status, { ...API_HEADER, 'content-type': 'application/json', 'content-length': String(body.length) });
  res.end(body);
}

/** The registry's answer passed on: its 404 as a 404, anything else (retries spent) as 503; a body already begun is cut. */
function upstreamFailed(ctx: Ctx, name: string, e: unknown, res: ServerResponse): void {
  const error = isEksdError(e) ? e : new EksdError('BUILD_PARENT_PROXY', String(e), { where: name, cause: e });
  const notFound = error instanceof RegistryError && error.status === 404;
  if (!notFound) {
    ctx.stats.failed++;
    ctx.failures.push({ name, at: Date.now(), error });
  }
  if (res.headersSent) { res.destroy(); return; }
  const body = errorBody(notFound ? (error as RegistryError).registryCode ?? 'NOT_FOUND' : 'UNAVAILABLE', error.message);
  res.writeHead(notFound ? 404 : 503, { ...API_HEADER, 'content-type': 'application/json', 'content-length': String(body.length) });
  res.end(body);
}

async function sendManifest(ctx: Ctx, name: string, source: ImageSource, digest: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const m = await manifestOf(ctx, name, source, digest);
  answer(res, req, 200, { 'content-type': m.mediaType, 'docker-content-digest': m.digest }, m.bytes);
}

async function sendBlobHead(source: ImageSource, digest: string, res: ServerResponse): Promise<void> {
  const size = await source.client.headBlob(source.repository, digest);
  if (size === undefined) {
    res.writeHead(404, { ...API_HEADER, 'content-type': 'application/json' });
    res.end();
    return;
  }
  res.writeHead(200, { ...API_HEADER, 'content-type': 'application/octet-stream', 'docker-content-digest': digest, 'content-length': String(size) });
  res.end();
}

/**
 * Streams the blob. A read that breaks mid-body is started again and the bytes already sent are skipped,
 * so the engine sees one unbroken body; what was sent is hashed, and a body that does not match its
 * digest is cut off before its end instead of completed.
 */
async function sendBlob(ctx: Ctx, source: ImageSource, digest: string, res: ServerResponse): Promise<void> {
  const sent = new DigestAccumulator(algorithmOf(digest));
  for (let read = 1; ; read++) {
    try {
      const body = await source.client.getBlobStream(source.repository, digest);
      if (!res.headersSent) res.writeHead(200, { ...API_HEADER, 'content-type': 'application/octet-stream', 'docker-content-digest': digest });
      await forward(body, sent, res);
      break;
    } catch (e) {
      if (res.destroyed) return; // the engine gave up on this request: nothing to answer
      if (read >= BLOB_READS) throw e;
      ctx.stats.blobRestarts++;
    }
  }
  if (sent.digest() !== digest) {
    throw new EksdError('BUILD_PARENT_PROXY', `${source.client.describe(source.repository, digest)}: the bytes sent hash to ${sent.digest()}`, {
      where: source.client.describe(source.repository, digest), hint: 'the registry served different bytes on a second read; retry the build',
    });
  }
  res.end();
}

/** Writes what `sent` does not have yet, waiting for the engine to take each chunk. */
async function forward(body: ReadableStream<Uint8Array>, sent: DigestAccumulator, res: ServerResponse): Promise<void> {
  let offset = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    if (res.destroyed) throw new Error('the engine closed the connection');
    const skip = Math.min(chunk.byteLength, Math.max(0, sent.size - offset));
    offset += chunk.byteLength;
    if (skip === chunk.byteLength) continue;
    const part = chunk.subarray(skip);
    sent.update(part);
    if (!res.write(part)) await drained(res);
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { res.off('drain', done); res.off('close', done); resolve(); };
    res.on('drain', done);
    res.on('close', done);
  });
}
