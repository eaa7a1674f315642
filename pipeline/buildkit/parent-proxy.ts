/**
 * The parents of our builds (BASE_IMAGE, BUILDER_IMAGE), served to the engine from 127.0.0.1. BuildKit
 * pulls FROM images with its own registry client, which does not retry: one 500, 429 or reset while it
 * loads a parent's metadata or layers fails the build. Here each of its requests is answered through
 * our RegistryClient, which retries (backoff, jitter, Retry-After), authenticates (an ECR Public token
 * stays with us: the engine needs no credentials) and checks every byte against its digest.
 *
 * A small read-only OCI distribution endpoint, plain http on a random loopback port (dockerd's BuildKit
 * speaks plain http to 127.0.0.1 without any insecure-registries setting). It serves only the parents
 * registered with `serve`, only by digest: `GET /v2/`, `GET|HEAD /v2/<name>/manifests/<digest>` and
 * `GET|HEAD /v2/<name>/blobs/<digest>`. Tags, listings, uploads and everything else are refused.
 * Neither the server nor its connections keep the process alive; `close` ends them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { EksdError, isEksdError } from '../errors.ts';
import { DigestAccumulator, algorithmOf } from '../registry/digest.ts';
import type { RegistryClient } from '../registry/client.ts';
import { RegistryError } from '../registry/errors.ts';
import type { Manifest } from '../registry/manifests.ts';
import { isDigest } from '../registry/reference.ts';

/** Where a parent really lives: the client of its registry and its repository there. */
export interface ParentSource { client: RegistryClient; repository: string }

/** A failure of the real registry while the engine was reading a parent through the proxy. */
export interface UpstreamFailure { name: string; at: number; error: EksdError }

export interface ParentProxyStats { requests: number; refused: number; failed: number; blobRestarts: number }

export interface ParentProxy {
  /** "127.0.0.1:PORT". */
  readonly host: string;
  readonly stats: ParentProxyStats;
  /** Serves `source` and returns the repository the engine pulls it from: `127.0.0.1:PORT/<registry>/<repository>`. */
  serve(source: ParentSource): string;
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

/** Starts the endpoint on a free port of 127.0.0.1. */
export async function startParentProxy(): Promise<ParentProxy> {
  const sources = new Map<string, ParentSource>();
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
  return {
    host, stats,
    serve: (source) => register(sources, host, source),
    failuresSince: (since, repositories) => failures.filter((f) => f.at >= since && repositories.includes(`${host}/${f.name}`)),
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

interface Ctx {
  sources: Map<string, ParentSource>;
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

function register(sources: Map<string, ParentSource>, host: string, source: ParentSource): string {
  const name = proxiedName(source.client.registry, source.repository);
  const known = sources.get(name);
  if (known && (known.client.registry !== source.client.registry || known.repository !== source.repository)) {
    throw new EksdError('BUILD_PARENT_PROXY', `${source.client.describe(source.repository)} and ${known.client.describe(known.repository)} would share the name ${name}`, {
      where: name, hint: 'name the registries so that they differ in more than punctuation',
    });
  }
  if (!known) sources.set(name, source);
  return `${host}/${name}`;
}

async function handle(ctx: Ctx, req: IncomingMessage, res: ServerResponse): Promise<void> {
  ctx.stats.requests++;
  req.resume();
  const path = new URL(req.url ?? '/', 'http://proxy').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(ctx, res, 405, 'UNSUPPORTED', 'read-only: GET and HEAD only');
  if (path === '/v2/' || path === '/v2') return answer(res, req, 200, { 'content-type': 'application/json' }, Buffer.from('{}'));
  const route = ROUTE.exec(path);
  const source = route ? ctx.sources.get(route[1]!) : undefined;
  if (!route || !source) return refuse(ctx, res, 404, 'NAME_UNKNOWN', 'only the parents of running builds are served here');
  const [, name, kind, reference] = route as unknown as [string, string, 'manifests' | 'blobs', string];
  if (!isDigest(reference)) return refuse(ctx, res, 404, kind === 'manifests' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', 'served by digest only');
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

/** Manifests are small and asked for by every build of a child: each is read once and kept for the run. */
async function sendManifest(ctx: Ctx, name: string, source: ParentSource, digest: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const key = `${name}@${digest}`;
  let pending = ctx.manifests.get(key);
  if (!pending) {
    pending = source.client.getManifest(source.repository, digest);
    ctx.manifests.set(key, pending);
    pending.catch(() => ctx.manifests.delete(key));
  }
  const m = await pending;
  answer(res, req, 200, { 'content-type': m.mediaType, 'docker-content-digest': m.digest }, m.bytes);
}

async function sendBlobHead(source: ParentSource, digest: string, res: ServerResponse): Promise<void> {
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
async function sendBlob(ctx: Ctx, source: ParentSource, digest: string, res: ServerResponse): Promise<void> {
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
