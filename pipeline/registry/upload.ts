import { through } from '../util/streams.ts';
import { algorithmOf, DigestAccumulator, hashingStream } from '../image/digest.ts';
import { clientError, digestMismatchError, type RequestContext } from './errors.ts';
import { withRetry } from './http.ts';
import { scopeFor } from './scopes.ts';
import { chunksOf, openWhole, withProgress, type BlobSource } from './sources.ts';
import type { BodySource, Reply, Transport } from './transport.ts';
import { headBlob } from './blobs.ts';

export interface UploadOptions {
  digest?: string;
  size?: number;
  /** Blobs larger than this go up in PATCH chunks of `chunkSize`. */
  chunkThreshold: number;
  chunkSize: number;
  /** An upload session already opened (by a mount answered 202). */
  startLocation?: URL;
}

export interface Uploaded {
  digest: string;
  size: number;
}

const OCTET = 'application/octet-stream';

interface Attempt {
  t: Transport;
  repo: string;
  source: BlobSource;
  o: UploadOptions;
  ctx: RequestContext;
  deadline: number;
}

/** Opens an upload session (POST) and returns its Location. */
async function start(a: Attempt): Promise<URL> {
  return a.t.request({ method: 'POST', url: `/v2/${a.repo}/blobs/uploads/`, ctx: a.ctx, scopes: scopeFor(a.repo, 'push', 'pull'),
    headers: { 'content-length': '0' }, expect: [202], deadline: a.deadline }, async (res) => {
    await res.arrayBuffer();
    return location(a, res);
  });
}

function location(a: Attempt, res: Reply): URL {
  const loc = res.headers.get('location');
  if (!loc) throw clientError(a.ctx, 'BLOB_UPLOAD_INVALID', `the registry answered ${res.status} without a Location header`);
  return a.t.resolve(loc);
}

function withDigest(url: URL, digest: string): URL {
  const u = new URL(url);
  u.searchParams.set('digest', digest);
  return u;
}

/** Completes the session with PUT ?digest= (optionally carrying the whole body) and checks the answer. */
async function finish(a: Attempt, at: URL, digest: string, body?: (progress: () => void) => Promise<BodySource>, size?: number): Promise<void> {
  const headers: Record<string, string> = { 'content-type': OCTET };
  if (!body || size !== undefined) headers['content-length'] = String(body ? size : 0);
  await a.t.request({ method: 'PUT', url: withDigest(at, digest), ctx: a.ctx, scopes: scopeFor(a.repo, 'push', 'pull'),
    headers, expect: [201, 204], retry: false, ...(body ? { body } : {}) }, async (res) => {
    await res.arrayBuffer();
    const echoed = res.headers.get('docker-content-digest');
    if (echoed !== null && echoed !== digest) throw digestMismatchError(a.ctx, digest, echoed);
  });
}

/** One PATCH; returns the next Location. */
async function patch(a: Attempt, at: URL, body: (progress: () => void) => BodySource | Promise<BodySource>, range?: [number, number]): Promise<URL> {
  const headers: Record<string, string> = { 'content-type': OCTET };
  if (range) Object.assign(headers, { 'content-range': `${range[0]}-${range[1]}`, 'content-length': String(range[1] - range[0] + 1) });
  return a.t.request({ method: 'PATCH', url: at, ctx: a.ctx, scopes: scopeFor(a.repo, 'push', 'pull'), headers, body,
    expect: [202, 204], retry: false }, async (res) => {
    await res.arrayBuffer();
    return location(a, res);
  });
}

/**
 * The whole source in one PUT: the digest must be known up front. The registry checks the bytes against
 * the digest (DIGEST_INVALID otherwise); streams from getBlobStream are verified while read as well.
 */
async function monolithic(a: Attempt, at: URL, digest: string): Promise<Uploaded> {
  let sent = 0;
  const open = async (progress: () => void): Promise<BodySource> => {
    const body = await openWhole(a.source, progress);
    if (body instanceof Uint8Array) { sent = body.byteLength; return body; }
    if (a.o.size !== undefined) return body;
    return withProgress(body, (bytes) => { sent += bytes; });
  };
  await finish(a, at, digest, open, a.o.size);
  return { digest, size: a.o.size ?? sent };
}

/** The whole source in one streamed PATCH, hashing as it goes; then PUT ?digest=. */
async function streamed(a: Attempt, at: URL): Promise<Uploaded> {
  let result: Uploaded | undefined;
  const next = await patch(a, at, async (progress) => {
    const body = await openWhole(a.source, progress);
    const hashed = hashingStream({ algorithm: 'sha256', onDone: (digest, size) => { result = { digest, size }; } });
    return body instanceof Uint8Array ? hashed.end(body) : through(body, hashed);
  });
  if (!result) throw clientError(a.ctx, 'BLOB_UPLOAD_INVALID', 'the upload stream ended early');
  await finish(a, next, result.digest);
  return result;
}

/** PATCH chunks with Content-Range, hashing as they go; then PUT ?digest=. */
async function chunked(a: Attempt, at: URL): Promise<Uploaded> {
  const acc = new DigestAccumulator(a.o.digest ? algorithmOf(a.o.digest) : 'sha256');
  let next = at;
  for await (const chunk of chunksOf(a.source, a.o.chunkSize)) {
    const from = acc.size;
    acc.update(chunk);
    next = await patch(a, next, () => chunk, [from, from + chunk.byteLength - 1]);
  }
  const digest = acc.digest();
  if (a.o.digest !== undefined && digest !== a.o.digest) throw digestMismatchError(a.ctx, a.o.digest, digest);
  await finish(a, next, digest);
  return { digest, size: acc.size };
}

async function once(a: Attempt, attempt: number): Promise<Uploaded> {
  const { digest, size } = a.o;
  if (attempt > 1 && digest !== undefined) {
    const have = await headBlob(a.t, a.repo, digest);
    if (have !== undefined) return { digest, size: have };
  }
  const at = attempt === 1 && a.o.startLocation ? a.o.startLocation : await start(a);
  if (size !== undefined && size > a.o.chunkThreshold) return chunked(a, at);
  if (digest !== undefined) return monolithic(a, at, digest);
  return streamed(a, at);
}

/**
 * Uploads a blob: monolithic PUT when the digest is known, chunked PATCHes above the threshold, or a
 * streamed PATCH computing the digest. A failed attempt restarts the whole upload from a re-opened
 * source (after checking whether the blob landed anyway).
 */
export function uploadBlob(t: Transport, repo: string, source: BlobSource, o: UploadOptions): Promise<Uploaded> {
  const ctx: RequestContext = { registry: t.o.registry, repository: repo, reference: o.digest ?? '(digest computed while uploading)', operation: 'upload blob' };
  const deadline = Date.now() + (t.o.retry.maxTotalMs ?? 120_000);
  const a: Attempt = { t, repo, source, o, ctx, deadline };
  return withRetry((attempt) => once(a, attempt), { policy: t.o.retry, gate: t.o.gate, log: t.o.log, deadline });
}
