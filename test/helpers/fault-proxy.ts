/**
 * An HTTP proxy on loopback in front of a registry that fails a share of requests: 500, 503 or 429
 * (with Retry-After 0 or 1), a reset socket, or (when enabled) a response cut off mid-body. The RNG is
 * seeded, so a run with the same seed and request order injects the same faults. It counts requests by
 * kind (e.g. "blob-upload-put") and rewrites Location headers so clients stay behind the proxy.
 *
 *   const proxy = await startFaultProxy({ target: reg.host, probability: 0.3, seed: 7 });
 *   new RegistryClient({ registry: proxy.host });
 *   proxy.forwarded['blob-upload-put']  // uploads that reached the registry
 *   await proxy.stop();
 */
import { randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadPin } from '../../pipeline/catalog/load.ts';
import { DEFAULT_ENV } from '../../dev/env/local.ts';
import { seedStandinBase } from '../../dev/env/standin-base.ts';
import { RegistryClient } from '../../pipeline/registry/client.ts';
import { splitReference, writePin } from '../../pipeline/resolve/base.ts';
import { LOCAL_REGISTRY, type TestProject } from './project.ts';

export type FaultKind = 500 | 503 | 429 | 'reset' | 'truncate';

export interface FaultProxyOptions {
  /** "127.0.0.1:PORT" of the registry. */
  target: string;
  /** Chance that a request gets a fault (0..1, default 0). */
  probability?: number;
  seed?: number;
  /** Faults to draw from (default 500, 503, 429, reset). 'truncate' cuts GET bodies after half. */
  faults?: FaultKind[];
  /** Retry-After values to draw from for 503/429 (default ['0', '1']). */
  retryAfter?: string[];
  /** Flip a byte in every blob GET body that is forwarded (to test digest verification). */
  corruptBlobs?: boolean;
  /**
   * Serve `tags/list?n=&last=` in pages with a Link header, as distribution 3 and ECR do (the 2.8
   * registry ignores `n`): tags sorted, those after `last`, at most `n`.
   */
  paginateTags?: boolean;
}

export interface FaultProxy {
  host: string;
  /** Requests that arrived, by kind. */
  received: Record<string, number>;
  /** Requests passed to the registry, by kind. */
  forwarded: Record<string, number>;
  /** When each forwarded request arrived (performance.now()), by kind, in arrival order. */
  forwardedAt: Record<string, number[]>;
  /** Faults injected, by fault. */
  injected: Record<string, number>;
  setProbability(p: number): void;
  setCorruptBlobs(on: boolean): void;
  resetCounts(): void;
  stop(): Promise<void>;
}

/** mulberry32: a small seedable PRNG returning [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** "blob-upload-put", "manifest-get", "blob-mount", "tags", ... from method and path. */
export function requestKind(method: string, url: string): string {
  const u = new URL(url, 'http://x');
  const m = method.toLowerCase();
  if (u.pathname === '/v2/' || u.pathname === '/v2') return 'ping';
  if (/\/blobs\/uploads\/?$/.test(u.pathname) && m === 'post') return u.searchParams.has('mount') ? 'blob-mount' : 'blob-upload-start';
  if (/\/blobs\/uploads\//.test(u.pathname)) return `blob-upload-${m}`;
  if (/\/blobs\//.test(u.pathname)) return `blob-${m}`;
  if (/\/manifests\//.test(u.pathname)) return `manifest-${m}`;
  if (/\/tags\/list$/.test(u.pathname)) return 'tags';
  return 'other';
}

const bump = (counts: Record<string, number>, key: string): void => { counts[key] = (counts[key] ?? 0) + 1; };

/** Starts the proxy on a free loopback port. */
export async function startFaultProxy(o: FaultProxyOptions): Promise<FaultProxy> {
  const random = seededRandom(o.seed ?? 1);
  const faults = o.faults ?? [500, 503, 429, 'reset'];
  const retryAfter = o.retryAfter ?? ['0', '1'];
  let probability = o.probability ?? 0;
  let corrupt = o.corruptBlobs ?? false;
  const received: Record<string, number> = {};
  const forwarded: Record<string, number> = {};
  const forwardedAt: Record<string, number[]> = {};
  const injected: Record<string, number> = {};
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();
  let host = '';
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)] as T;

  const fail = (fault: FaultKind, req: IncomingMessage, res: ServerResponse): void => {
    bump(injected, String(fault));
    if (fault === 'reset') { req.socket.destroy(); return; }
    req.resume();
    const headers: Record<string, string> = { 'content-type': 'application/json', connection: 'close' };
    if (fault === 429 || fault === 503) headers['retry-after'] = pick(retryAfter);
    const code = fault === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE';
    res.writeHead(fault as number, headers);
    res.end(JSON.stringify({ errors: [{ code, message: `injected ${fault}` }] }));
  };

  const rewrite = (headers: IncomingMessage['headers']): Record<string, string | string[]> => {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = v;
    if (typeof out.location === 'string') out.location = out.location.replace(`//${o.target}`, `//${host}`);
    return out;
  };

  const forward = (kind: string, req: IncomingMessage, res: ServerResponse, truncate: boolean): void => {
    bump(forwarded, kind);
    (forwardedAt[kind] ??= []).push(performance.now());
    const up = request({ host: o.target.split(':')[0], port: Number(o.target.split(':')[1]), method: req.method,
      path: req.url, headers: req.headers, agent }, (upRes) => {
      const flip = corrupt && kind === 'blob-get' && upRes.statusCode === 200;
      res.writeHead(upRes.statusCode ?? 502, rewrite(upRes.headers));
      let sent = 0;
      const total = Number(upRes.headers['content-length'] ?? 0);
      upRes.on('data', (chunk: Buffer) => {
        if (flip && sent === 0 && chunk.length > 0) { chunk = Buffer.from(chunk); chunk[0] = (chunk[0] ?? 0) ^ 0xff; }
        sent += chunk.length;
        if (truncate && sent > total / 2) { bump(injected, 'truncate'); upRes.destroy(); res.socket?.destroy(); return; }
        res.write(chunk);
      });
      upRes.on('end', () => res.end());
      upRes.on('error', () => res.socket?.destroy());
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  };

  const paginate = (req: IncomingMessage, res: ServerResponse): void => {
    bump(forwarded, 'tags');
    const url = new URL(req.url ?? '/', 'http://x');
    const n = Number(url.searchParams.get('n'));
    const last = url.searchParams.get('last');
    const up = request({ host: o.target.split(':')[0], port: Number(o.target.split(':')[1]), method: 'GET',
      path: url.pathname, headers: req.headers, agent }, (upRes) => {
      const chunks: Buffer[] = [];
      upRes.on('data', (c: Buffer) => chunks.push(c));
      upRes.on('end', () => {
        if (upRes.statusCode !== 200) { res.writeHead(upRes.statusCode ?? 502, rewrite(upRes.headers)); res.end(Buffer.concat(chunks)); return; }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { name: string; tags: string[] | null };
        const all = (body.tags ?? []).sort().filter((t) => last === null || t > last);
        const page = all.slice(0, n);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (all.length > n) headers.link = `<${url.pathname}?last=${encodeURIComponent(page[page.length - 1] ?? '')}&n=${n}>; rel="next"`;
        res.writeHead(200, headers);
        res.end(JSON.stringify({ name: body.name, tags: page }));
      });
    });
    up.on('error', () => res.socket?.destroy());
    up.end();
  };

  const server = createServer((req, res) => {
    const kind = requestKind(req.method ?? 'GET', req.url ?? '/');
    bump(received, kind);
    const fault = random() < probability ? pick(faults) : undefined;
    if (fault === undefined && kind === 'tags' && o.paginateTags && /[?&]n=\d+/.test(req.url ?? '')) {
      paginate(req, res);
      return;
    }
    if (fault === undefined || fault === 'truncate') {
      forward(kind, req, res, fault === 'truncate' && req.method === 'GET');
      return;
    }
    fail(fault, req, res);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  host = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const clear = (c: Record<string, number>): void => { for (const k of Object.keys(c)) delete c[k]; };
  return {
    host, received, forwarded, forwardedAt, injected,
    setProbability: (p) => { probability = p; },
    setCorruptBlobs: (on) => { corrupt = on; },
    resetCounts: () => { clear(received); clear(forwarded); clear(injected); for (const k of Object.keys(forwardedAt)) delete forwardedAt[k]; },
    stop: async () => {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Checks that requests arriving at the proxy were paced to at most `limit` per `windowMs`, given their
 * arrival times (`forwardedAt[kind]`). An upload gets its turn only once an earlier one completed a full
 * window ago, and a completion comes after its PUT arrived, so arrivals `limit` apart are a window
 * apart. The tolerance covers the proxy's own event loop noting an arrival late on a busy machine.
 * Returns the violations (empty when paced) and the most arrivals seen in any window.
 */
export function pacingReport(times: number[], limit: number, windowMs = 1000, toleranceMs = 100): { violations: string[]; busiest: number } {
  const violations: string[] = [];
  let busiest = 0;
  for (let i = 0; i < times.length; i++) {
    busiest = Math.max(busiest, times.filter((c) => c >= times[i]! && c < times[i]! + windowMs).length);
    const gap = i + limit < times.length ? times[i + limit]! - times[i]! : Infinity;
    if (gap < windowMs - toleranceMs) violations.push(`arrivals ${i} and ${i + limit} are ${Math.round(gap)} ms apart`);
  }
  return { violations, busiest };
}

/**
 * Puts a test project's registry traffic behind `proxyHost`: a fresh stand-in upstream revision (so no
 * engine cache entry matches a step: every image really builds) pinned by its proxied reference, and the
 * image repositories named through the proxy. The content lives in `registry`; only names change.
 */
export async function projectBehindProxy(p: TestProject, proxyHost: string, registry = LOCAL_REGISTRY): Promise<void> {
  await p.seed();
  const config = p.config();
  const { repository, tag } = splitReference(loadPin(config.basePin).reference);
  const revision = 1000 + randomInt(1_000_000_000);
  const base = await seedStandinBase(new RegistryClient({ registry }), repository, tag, revision, join(DEFAULT_ENV.root, 'busybox'));
  await writePin(config.basePin, { ...base, reference: `${proxyHost}/${repository}:${tag}` });
  const file = parse(readFileSync(p.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(p.configFile, stringify({ ...file, imageRepo: `${proxyHost}/${p.ns}/eks-distro`, baseImageRepo: `${proxyHost}/${p.ns}/eks-distro-build-tooling` }));
}
