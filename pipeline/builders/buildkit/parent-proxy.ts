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
 * process alive; `close` ends them. What may be served is parent-grants.ts; one request is parent-requests.ts.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { EksdError } from '../../errors.ts';
import type { ImageSource } from '../../registry/image.ts';
import { ParentGrants, type ParentGrant } from './parent-grants.ts';
import { handle, type Endpoint, type ParentProxyStats, type UpstreamFailure } from './parent-requests.ts';

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

/** Starts the endpoint on a free port of 127.0.0.1, under a new random token. */
export async function startParentProxy(): Promise<ParentProxy> {
  const grants = new ParentGrants(randomBytes(16).toString('hex'));
  const endpoint: Endpoint = { grants, failures: [], stats: { requests: 0, refused: 0, failed: 0, blobRestarts: 0 } };
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => { void handle(endpoint, req, res); });
  server.on('connection', (socket) => {
    socket.unref();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = `127.0.0.1:${await listen(server)}`;
  server.unref();
  return {
    host, stats: endpoint.stats,
    serve: (source, digest) => grants.grant(host, source, digest),
    failuresSince: (since, repositories) => endpoint.failures.filter((f) => f.at >= since && repositories.includes(`${host}/${f.name}`)),
    close: () => new Promise<void>((resolve) => {
      grants.clear();
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
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
