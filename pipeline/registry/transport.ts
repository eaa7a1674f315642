import type { Authenticator } from './auth.ts';
import { clientError, RegistryError, statusError, transportError, type RequestContext } from './errors.ts';
import type { HostBudget } from './host-budget.ts';
import { HostGate, parseRetryAfter, Watchdog, withRetry, type RetryPolicy } from './http.ts';
import type { ScopeSet } from './scopes.ts';
import { Wire, type BodySource, type Reply } from './wire.ts';

export type { BodySource, Reply } from './wire.ts';

export interface RequestSpec {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** A path ("/v2/...") or an absolute URL (upload Locations). */
  url: string | URL;
  ctx: RequestContext;
  scopes: ScopeSet;
  headers?: Record<string, string>;
  /**
   * Opens the request body; called again for every resend, so a stream is never replayed. A stream
   * body must call `progress` as chunks are read (it feeds the request's watchdog); return
   * (sources.ts `withProgress` adds that to a stream that does not).
   */
  body?: (progress: () => void) => BodySource | Promise<BodySource>;
  /** Statuses handed to `consume`; anything else becomes a RegistryError. */
  expect: number[];
  /** Retry this request on its own (default true); false when a caller retries a larger unit. */
  retry?: boolean;
  /** No new attempt after this time (ms since epoch). */
  deadline?: number;
  /** The response body outlives the request: keep the watchdog running, the consumer stops it. */
  streamResponse?: boolean;
}

export interface TransportOptions {
  registry: string;
  baseUrl: URL;
  auth: Authenticator;
  gate: HostGate;
  /** The host's budget as a whole: a host failing every request is given up on. */
  budget: HostBudget;
  retry: RetryPolicy;
  timeoutMs: number;
  log: (line: string) => void;
}


/** Sends requests to one registry: per-host gate, retries, auth challenges, timeouts, typed errors. */
export class Transport {
  private readonly wire = new Wire();

  constructor(readonly o: TransportOptions) {}

  resolve(url: string | URL): URL {
    return new URL(url, this.o.baseUrl);
  }

  /** Performs the request and hands an expected response to `consume` (inside the retried unit). */
  request<T>(spec: RequestSpec, consume: (res: Reply, wd: Watchdog) => Promise<T>): Promise<T> {
    const once = (): Promise<T> => this.attempt(spec, consume);
    if (spec.retry === false) return once();
    return withRetry(once, {
      policy: this.o.retry, gate: this.o.gate, log: this.o.log,
      ...(spec.deadline === undefined ? {} : { deadline: spec.deadline }),
    }).catch((e: unknown) => { throw this.o.budget.outcome(e); });
  }

  /** One attempt, once the host's gate lets it through, within the host's budget. */
  private async attempt<T>(spec: RequestSpec, consume: (res: Reply, wd: Watchdog) => Promise<T>): Promise<T> {
    const release = await this.o.gate.acquire();
    try {
      return await this.o.budget.run(() => this.exchange(spec, consume));
    } finally {
      release();
    }
  }

  private async exchange<T>(spec: RequestSpec, consume: (res: Reply, wd: Watchdog) => Promise<T>): Promise<T> {
    const wd = new Watchdog(this.o.timeoutMs, `${spec.method} ${spec.ctx.registry}`);
    let handedOff = false;
    let res: Reply | undefined;
    try {
      res = await this.authorized(spec, wd);
      if (res.status === 401 && !spec.expect.includes(401)) {
        await res.arrayBuffer().catch(() => undefined);
        throw clientError(spec.ctx, 'UNAUTHORIZED', `the registry refused ${this.o.auth.describeCredentials()} (HTTP 401)`);
      }
      if (!spec.expect.includes(res.status)) {
        const text = await res.text();
        throw statusError(spec.ctx, res.status, text, parseRetryAfter(res.headers.get('retry-after')));
      }
      const out = await consume(res, wd);
      handedOff = spec.streamResponse === true;
      return out;
    } catch (e) {
      throw registryErrorIn(e) ?? transportError(spec.ctx, e);
    } finally {
      if (!handedOff) {
        wd.stop();
        // A body nobody read: an empty one is drained (its connection goes back to the pool), any other
        // closed, so that nothing is left open without a watchdog.
        if (res && !res.body.readableEnded) {
          if (spec.method === 'HEAD' || res.headers.get('content-length') === '0') res.body.resume();
          else res.body.destroy();
        }
      }
    }
  }

  /** Sends with a cached Authorization, answers one challenge, and refreshes credentials once. */
  private async authorized(spec: RequestSpec, wd: Watchdog): Promise<Reply> {
    const url = this.resolve(spec.url);
    const sameOrigin = url.origin === this.o.baseUrl.origin;
    let header = sameOrigin ? await this.o.auth.headerFor(spec.scopes) : undefined;
    let res = await this.send(spec, url, header, wd);
    if (res.status !== 401 || !sameOrigin) return res;
    for (let refreshed = false; ;) {
      const challenge = res.headers.get('www-authenticate');
      await res.arrayBuffer().catch(() => undefined);
      this.o.auth.forget(header);
      header = await this.o.auth.answer(challenge, spec.scopes, spec.ctx);
      res = await this.send(spec, url, header, wd);
      if (res.status !== 401 || refreshed || !(await this.o.auth.refresh())) return res;
      refreshed = true;
    }
  }

  private async send(spec: RequestSpec, url: URL, authorization: string | undefined, wd: Watchdog): Promise<Reply> {
    const headers: Record<string, string> = { ...spec.headers };
    if (authorization) headers.authorization = authorization;
    const body = spec.body ? await spec.body(() => wd.kick()) : undefined;
    wd.kick();
    return this.wire.send({ method: spec.method, url, headers, signal: wd.signal, ...(body === undefined ? {} : { body }) });
  }
}

/** A RegistryError that is the error or its cause (a body stream that failed its digest check). */
function registryErrorIn(e: unknown): RegistryError | undefined {
  for (let cur = e, i = 0; i < 5 && cur instanceof Error; cur = cur.cause, i++) if (cur instanceof RegistryError) return cur;
  return undefined;
}

/** Reads a whole response body, kicking the watchdog per chunk; fails (not retried) past `limit` bytes. */
export async function readBody(res: Reply, wd: Watchdog, ctx: RequestContext, limit = Number.POSITIVE_INFINITY): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    wd.kick();
    size += chunk.byteLength;
    if (size > limit) {
      res.body.destroy();
      throw clientError(ctx, 'SIZE_INVALID', `the response body is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
