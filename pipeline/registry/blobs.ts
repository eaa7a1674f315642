import type { Readable } from 'node:stream';
import { through } from '../util/streams.ts';
import { algorithmOf, hashingStream, matchesDigest, digestOf } from '../image/digest.ts';
import { digestMismatchError, type RequestContext } from './errors.ts';
import { mountScope, scopeFor } from './scopes.ts';
import { readBody, type Transport } from './transport.ts';

const blobPath = (repo: string, digest: string): string => `/v2/${repo}/blobs/${digest}`;

function ctxOf(t: Transport, repository: string, reference: string, operation: string): RequestContext {
  return { registry: t.o.registry, repository, reference, operation };
}

/** The blob's size, or undefined when the repository does not have it. */
export function headBlob(t: Transport, repo: string, digest: string): Promise<number | undefined> {
  const ctx = ctxOf(t, repo, digest, 'head blob');
  return t.request({ method: 'HEAD', url: blobPath(repo, digest), ctx, scopes: scopeFor(repo, 'pull'), expect: [200, 404] },
    async (res) => res.status === 404 ? undefined : Number(res.headers.get('content-length') ?? 0));
}

/** The whole blob, verified against its digest. */
export function getBlob(t: Transport, repo: string, digest: string): Promise<Buffer> {
  const ctx = ctxOf(t, repo, digest, 'get blob');
  return t.request({ method: 'GET', url: blobPath(repo, digest), ctx, scopes: scopeFor(repo, 'pull'), expect: [200] },
    async (res, wd) => {
      const bytes = await readBody(res, wd, ctx);
      if (!matchesDigest(bytes, digest)) throw digestMismatchError(ctx, digest, digestOf(bytes, algorithmOf(digest)));
      return bytes;
    });
}

/**
 * The blob as a stream; the stream errors at its end when the content does not match the digest, so
 * whatever consumes it (an upload) fails rather than completing with wrong bytes.
 */
export function getBlobStream(t: Transport, repo: string, digest: string, onChunk?: () => void): Promise<Readable> {
  const ctx = ctxOf(t, repo, digest, 'get blob');
  return t.request({ method: 'GET', url: blobPath(repo, digest), ctx, scopes: scopeFor(repo, 'pull'), expect: [200],
    streamResponse: true }, async (res, wd) => {
    // A body that breaks off (a reset, the watchdog) errors the stream its reader holds.
    return through(res.body, hashingStream({
      expected: digest,
      onChunk: onChunk ? () => { wd.kick(); onChunk(); } : () => wd.kick(),
      onDone: () => wd.stop(),
      onMismatch: (actual) => { wd.stop(); return digestMismatchError(ctx, digest, actual); },
    }), () => wd.stop());
  });
}

/** Result of a mount attempt: done, or an upload session to continue with, or failed (upload instead). */
export type MountResult = { mounted: true } | { mounted: false; location?: URL };

/**
 * Cross-repository mount (`POST ?mount=&from=`). 201 means mounted; 202 means the registry opened an
 * upload session instead. Any error (auth, unsupported, network) means "upload normally".
 */
export async function mountBlob(t: Transport, repo: string, digest: string, from: string): Promise<MountResult> {
  const ctx = ctxOf(t, repo, digest, `mount blob from ${from} into`);
  const url = `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
  try {
    return await t.request({ method: 'POST', url, ctx, scopes: mountScope(repo, from), expect: [201, 202],
      headers: { 'content-length': '0' } }, async (res) => {
      await res.arrayBuffer();
      const location = res.headers.get('location');
      if (res.status === 201) return { mounted: true };
      return location ? { mounted: false, location: t.resolve(location) } : { mounted: false };
    });
  } catch (e) {
    t.o.log(`mount ${digest} from ${from} into ${t.o.registry}/${repo} failed, uploading instead: ${(e as Error).message}`);
    return { mounted: false };
  }
}
