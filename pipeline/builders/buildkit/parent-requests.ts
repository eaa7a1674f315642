/**
 * One request to the parents' endpoint: `GET /v2/`, or a manifest or blob of a granted parent by digest,
 * answered from the real registry; anything else refused. A failure of the real registry is recorded
 * (the builder names it when a build fails) and passed on: its 404 as a 404, anything else as 503.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EksdError, isEksdError } from '../../errors.ts';
import { RegistryError } from '../../registry/errors.ts';
import { isDigest } from '../../registry/reference.ts';
import { sendBlob, sendBlobHead } from './parent-blobs.ts';
import type { ParentGrants } from './parent-grants.ts';
import { answer, answerError } from './parent-http.ts';

/** A failure of the real registry while the engine was reading a parent through the proxy. */
export interface UpstreamFailure { name: string; at: number; error: EksdError }

export interface ParentProxyStats { requests: number; refused: number; failed: number; blobRestarts: number }

const ROUTE = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/;

export interface Endpoint { grants: ParentGrants; failures: UpstreamFailure[]; stats: ParentProxyStats }

export async function handle(endpoint: Endpoint, req: IncomingMessage, res: ServerResponse): Promise<void> {
  endpoint.stats.requests++;
  req.resume();
  const path = new URL(req.url ?? '/', 'http://proxy').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(endpoint, res, 405, 'UNSUPPORTED', 'read-only: GET and HEAD only');
  if (path === '/v2/' || path === '/v2') return answer(res, req, 200, { 'content-type': 'application/json' }, Buffer.from('{}'));
  const route = ROUTE.exec(path);
  const served = route ? endpoint.grants.served(route[1]!) : undefined;
  if (!route || !served) return refuse(endpoint, res, 404, 'NAME_UNKNOWN', 'only the parents of running builds are served here');
  const [, name, kind, reference] = route as unknown as [string, string, 'manifests' | 'blobs', string];
  const unknown = kind === 'manifests' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN';
  if (!isDigest(reference)) return refuse(endpoint, res, 404, unknown, 'served by digest only');
  if (!served.digests.has(reference)) return refuse(endpoint, res, 404, unknown, 'not part of a parent of a running build');
  const source = served.source;
  try {
    if (kind === 'manifests') {
      const m = await endpoint.grants.manifest(name, source, reference);
      answer(res, req, 200, { 'content-type': m.mediaType, 'docker-content-digest': m.digest }, m.bytes);
    } else if (req.method === 'HEAD') await sendBlobHead(source, reference, res);
    else await sendBlob(source, reference, res, () => { endpoint.stats.blobRestarts++; });
  } catch (e) {
    upstreamFailed(endpoint, name, e, res);
  }
}

function refuse(endpoint: Endpoint, res: ServerResponse, status: number, code: string, message: string): void {
  endpoint.stats.refused++;
  answerError(res, status, code, message);
}

/** The registry's answer passed on: its 404 as a 404, anything else (retries spent) as 503; a body already begun is cut. */
function upstreamFailed(endpoint: Endpoint, name: string, e: unknown, res: ServerResponse): void {
  const error = isEksdError(e) ? e : new EksdError('BUILD_PARENT_PROXY', String(e), { where: name, cause: e });
  const notFound = error instanceof RegistryError && error.status === 404;
  if (!notFound) {
    endpoint.stats.failed++;
    endpoint.failures.push({ name, at: Date.now(), error });
  }
  if (res.headersSent) { res.destroy(); return; }
  answerError(res, notFound ? 404 : 503, notFound ? (error as RegistryError).registryCode ?? 'NOT_FOUND' : 'UNAVAILABLE', error.message);
}
