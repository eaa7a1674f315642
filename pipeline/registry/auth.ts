import { registerSecret } from '../errors.ts';
import { parseChallenge, type Challenge } from './challenge.ts';
import type { CredentialSource, Credentials } from './credentials.ts';
import { clientError, RegistryError, statusError, transportError, type RequestContext } from './errors.ts';
import { Watchdog, withRetry, type RetryPolicy } from './http.ts';
import { covers, parseScopes, scopeKey, type ScopeSet } from './scopes.ts';

export { parseChallenge, type Challenge } from './challenge.ts';

/** True for loopback hosts: 127.0.0.0/8, localhost, [::1] (with or without a port). */
export function isLoopback(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name === '[::1]' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

interface CachedToken {
  scopes: ScopeSet;
  header: string;
  expiresAt: number;
}

export interface AuthenticatorOptions {
  registry: string;
  /** Base URL of the registry (scheme decided by the client). */
  baseUrl: URL;
  credentials?: CredentialSource;
  timeoutMs: number;
  retry: RetryPolicy;
  log: (line: string) => void;
}

function basicHeader(c: Credentials): string {
  const encoded = Buffer.from(`${c.username}:${c.password}`).toString('base64');
  registerSecret(encoded);
  return `Basic ${encoded}`;
}

/**
 * Answers registry auth challenges for one registry. Basic: sends the credentials on every request once
 * the registry asked for them. Bearer: asks the token realm for exactly the challenged scopes, caches the
 * token per scope set until it expires and reuses it for any request the scopes cover.
 */
export class Authenticator {
  private mode: 'unknown' | 'basic' | 'bearer' = 'unknown';
  private tokens: CachedToken[] = [];
  private readonly pending = new Map<string, Promise<string>>();

  constructor(private readonly o: AuthenticatorOptions) {}

  /** The Authorization header to send up front for these scopes, if one is known. */
  async headerFor(scopes: ScopeSet): Promise<string | undefined> {
    if (this.mode === 'basic') {
      const c = await this.credentials();
      return c ? basicHeader(c) : undefined;
    }
    if (this.mode !== 'bearer') return undefined;
    const now = Date.now();
    this.tokens = this.tokens.filter((t) => t.expiresAt > now);
    return this.tokens.find((t) => covers(t.scopes, scopes))?.header;
  }

  /** "the credentials (static credentials for user x)" or "anonymous access", for messages. */
  describeCredentials(): string {
    return this.o.credentials ? `the credentials (${this.o.credentials.description})` : 'anonymous access (no credentials configured)';
  }

  /** Forgets a header the registry refused (a token revoked or expired early). */
  forget(header: string | undefined): void {
    if (header) this.tokens = this.tokens.filter((t) => t.header !== header);
  }

  /** Asks the source for fresh credentials and drops cached tokens; false when the source cannot refresh. */
  async refresh(): Promise<boolean> {
    const source = this.o.credentials;
    if (!source?.refresh) return false;
    this.o.log(`auth ${this.o.registry}: refreshing credentials (${source.description})`);
    await source.refresh();
    this.tokens = [];
    return true;
  }

  /** The header to retry with after a 401 carrying `wwwAuthenticate`. Throws REGISTRY_UNAUTHORIZED when none can be had. */
  async answer(wwwAuthenticate: string | null, needed: ScopeSet, ctx: RequestContext): Promise<string> {
    const challenge = parseChallenge(wwwAuthenticate);
    if (challenge?.scheme === 'basic') return this.answerBasic(ctx);
    if (challenge?.scheme === 'bearer' && challenge.params.realm) return this.answerBearer(challenge, needed, ctx);
    throw clientError(ctx, 'UNAUTHORIZED', `the registry answered 401 with ${wwwAuthenticate ? `an unsupported challenge (${challenge?.scheme ?? 'unreadable'})` : 'no challenge'}`);
  }

  private async answerBasic(ctx: RequestContext): Promise<string> {
    this.mode = 'basic';
    this.assertMaySend(this.o.baseUrl, ctx);
    const c = await this.credentials();
    if (!c) throw clientError(ctx, 'UNAUTHORIZED', 'the registry requires credentials (Basic) and none are configured');
    return basicHeader(c);
  }

  private answerBearer(challenge: Challenge, needed: ScopeSet, ctx: RequestContext): Promise<string> {
    this.mode = 'bearer';
    this.assertMaySend(this.o.baseUrl, ctx);
    const scopeText = challenge.params.scope ?? scopeKey(needed);
    const key = `${challenge.params.realm} ${challenge.params.service ?? ''} ${scopeKey(parseScopes(scopeText))}`;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const p = this.fetchToken(challenge, scopeText, ctx).finally(() => this.pending.delete(key));
    this.pending.set(key, p);
    return p;
  }

  /** The source's current credentials (sources cache them; ECR tokens until shortly before expiry). */
  private credentials(): Promise<Credentials | undefined> {
    return this.o.credentials?.get() ?? Promise.resolve(undefined);
  }

  /** Never send credentials (or tokens got with them) over plain http, except to loopback. */
  private assertMaySend(url: URL, ctx: RequestContext): void {
    if (this.o.credentials && url.protocol === 'http:' && !isLoopback(url.host)) {
      throw clientError(ctx, 'INSECURE', `refusing to send credentials over plain http to ${url.host}`);
    }
  }

  private tokenUrl(challenge: Challenge, scopeText: string, ctx: RequestContext): URL {
    let url: URL;
    try {
      url = new URL(challenge.params.realm ?? '');
    } catch {
      throw clientError(ctx, 'UNAUTHORIZED', `the token realm "${challenge.params.realm}" is not a URL`);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const s of scopeText.split(/\s+/).filter(Boolean)) url.searchParams.append('scope', s);
    return url;
  }

  private async fetchToken(challenge: Challenge, scopeText: string, ctx: RequestContext): Promise<string> {
    const url = this.tokenUrl(challenge, scopeText, ctx);
    this.assertMaySend(url, ctx);
    let res = await this.requestToken(url, ctx);
    if (res.status === 401 && await this.refresh()) res = await this.requestToken(url, ctx);
    const text = res.text;
    if (res.status !== 200) {
      const e = statusError({ ...ctx, operation: `${ctx.operation}: token request to ${url.origin}${url.pathname} for "${scopeText}"` }, res.status, text);
      throw res.status === 401 || res.status === 403
        ? clientError(ctx, 'UNAUTHORIZED', `the token server ${url.origin}${url.pathname} refused the credentials (HTTP ${res.status}) for "${scopeText}"`)
        : e;
    }
    return this.storeToken(text, scopeText, ctx);
  }

  private storeToken(text: string, scopeText: string, ctx: RequestContext): string {
    let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw clientError(ctx, 'UNAUTHORIZED', 'the token server answered with something that is not JSON');
    }
    const token = body.token ?? body.access_token;
    if (!token) throw clientError(ctx, 'UNAUTHORIZED', 'the token server answered without a token');
    registerSecret(token);
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const lifeMs = (body.expires_in ?? 60) * 1000;
    const expiresAt = (Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now())) + lifeMs - Math.min(10_000, lifeMs / 10);
    const header = `Bearer ${token}`;
    this.tokens.push({ scopes: parseScopes(scopeText), header, expiresAt });
    this.o.log(`auth ${this.o.registry}: token for "${scopeText}" valid ${Math.round(lifeMs / 1000)}s`);
    return header;
  }

  private async requestToken(url: URL, ctx: RequestContext): Promise<{ status: number; text: string }> {
    const c = await this.credentials();
    const headers: Record<string, string> = c ? { authorization: basicHeader(c) } : {};
    const tokenCtx = { ...ctx, operation: `${ctx.operation}: token request to ${url.origin}${url.pathname}` };
    return withRetry(async () => {
      const wd = new Watchdog(this.o.timeoutMs, `token request ${url.origin}`);
      try {
        const res = await fetch(url, { headers, signal: wd.signal });
        const text = await res.text();
        if (res.status === 408 || res.status === 429 || res.status >= 500) throw statusError(tokenCtx, res.status, text);
        return { status: res.status, text };
      } catch (e) {
        throw e instanceof RegistryError ? e : transportError(tokenCtx, e);
      } finally {
        wd.stop();
      }
    }, { policy: this.o.retry, log: this.o.log });
  }
}
