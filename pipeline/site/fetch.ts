/**
 * Read-only HTTP(S) GET of a site file (a published Release manifest), with timeout and retries on
 * network errors, 408, 429 and 5xx (exponential backoff with jitter, honouring Retry-After).
 */
import { EksdError } from '../errors.ts';

export interface FetchOptions {
  timeoutMs?: number;
  attempts?: number;
  /** base backoff in ms (default 250) */
  backoffMs?: number;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);

function delayFor(attempt: number, base: number, retryAfter: string | null): number {
  const seconds = retryAfter !== null ? Number(retryAfter) : NaN;
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 30_000);
  return base * 2 ** attempt * (0.5 + Math.random());
}

/** Body of url as text, or undefined on 404/410. Other failures throw SITE_FETCH_FAILED. */
export async function fetchText(url: string, options: FetchOptions = {}): Promise<string | undefined> {
  const bytes = await fetchBytes(url, options);
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

/** Body of url as served, byte for byte, or undefined on 404/410. Other failures throw SITE_FETCH_FAILED. */
export async function fetchBytes(url: string, options: FetchOptions = {}): Promise<Buffer | undefined> {
  const attempts = options.attempts ?? 4;
  let last = '';
  for (let attempt = 0; attempt < attempts; attempt++) {
    let retryAfter: string | null = null;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 30_000), redirect: 'follow' });
      if (res.ok) return Buffer.from(await res.arrayBuffer());
      await res.body?.cancel();
      if (res.status === 404 || res.status === 410) return undefined;
      last = `HTTP ${res.status} ${res.statusText}`;
      if (!RETRY_STATUS.has(res.status)) break;
      retryAfter = res.headers.get('retry-after');
    } catch (e) {
      last = (e as Error).message;
    }
    if (attempt + 1 < attempts) await new Promise((r) => setTimeout(r, delayFor(attempt, options.backoffMs ?? 250, retryAfter)));
  }
  throw new EksdError('SITE_FETCH_FAILED', `cannot fetch ${url}: ${last}`, {
    where: url, hint: 'check the site base URL and network access; the file must be publicly readable',
  });
}
