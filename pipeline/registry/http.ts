import { Turns } from '../util/turns.ts';
import { RegistryError } from './errors.ts';

/** Bounded retries with exponential backoff and full jitter. */
export interface RetryPolicy {
  /** Attempts in all, the first one included (default 6). */
  attempts: number;
  /** First backoff ceiling in ms; doubles per attempt (default 250). */
  baseMs: number;
  /** Largest backoff ceiling in ms (default 10 000). */
  maxMs: number;
  /** Give up once this much time has passed since the first attempt (default 120 000). */
  maxTotalMs?: number;
}

/**
 * Twelve attempts, backoff capped at 4 s: a request fails for good only after about half a minute of
 * failures in a row. A release makes thousands of requests; through a registry failing 30% of them, six
 * attempts left one failure in a row of six (0.3^6) somewhere in most runs, twelve make it one in a
 * million per request.
 */
export const DEFAULT_RETRY: Required<RetryPolicy> = { attempts: 12, baseMs: 250, maxMs: 4_000, maxTotalMs: 120_000 };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Full-jitter backoff for the attempt that just failed (1-based). */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Retry-After as milliseconds: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Per-host request gate: at most `limit` requests in flight, and a pause shared by every request to
 * the host (set when the host answers 429 or asks to retry after a while).
 */
export class HostGate {
  private readonly turns: Turns;
  private pausedUntil = 0;

  constructor(readonly limit: number) {
    this.turns = new Turns(limit, { what: 'concurrency' });
  }

  /** Waits for a free slot and for any host-wide pause to end; returns the release function. */
  async acquire(): Promise<() => void> {
    const release = await this.turns.acquire();
    for (let wait = this.pausedUntil - Date.now(); wait > 0; wait = this.pausedUntil - Date.now()) await sleep(wait);
    return release;
  }

  /** Pauses every request to the host for `ms` (extends, never shortens, a pause in force). */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }

  get inFlight(): number {
    return this.turns.inUse;
  }
}

export interface RetryOptions {
  policy: RetryPolicy;
  gate?: HostGate;
  /** Absolute time (ms) after which no new attempt starts; defaults to now + policy.maxTotalMs. */
  deadline?: number;
  log?: (line: string) => void;
  random?: () => number;
}

/** The error that ended the retries, saying how many attempts were made over how long. */
function exhausted(e: RegistryError, attempts: number, startedAt: number): RegistryError {
  const secs = ((Date.now() - startedAt) / 1000).toFixed(1);
  return new RegistryError(e.code, `${e.message} (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'} in ${secs}s)`, {
    where: e.where ?? '', hint: e.hint ?? '', cause: e, retryable: false,
    ...(e.status === undefined ? {} : { status: e.status }),
    ...(e.registryCode === undefined ? {} : { registryCode: e.registryCode }),
    ...(e.registryErrors === undefined ? {} : { registryErrors: e.registryErrors }),
  });
}

/**
 * Runs `fn` until it succeeds, throws a non-retryable error, runs out of attempts or would pass the
 * deadline. Only RegistryErrors marked retryable are retried; a 429 or Retry-After pauses the whole host.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const startedAt = Date.now();
  const deadline = o.deadline ?? startedAt + (o.policy.maxTotalMs ?? DEFAULT_RETRY.maxTotalMs);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!(e instanceof RegistryError) || !e.retryable) throw e;
      if (attempt >= o.policy.attempts) throw exhausted(e, attempt, startedAt);
      const delay = Math.max(backoffDelay(attempt, o.policy, o.random), e.retryAfterMs ?? 0);
      if (Date.now() + delay > deadline) throw exhausted(e, attempt, startedAt);
      if (e.status === 429 || e.retryAfterMs !== undefined) o.gate?.pause(delay);
      o.log?.(`retry ${attempt}/${o.policy.attempts - 1} in ${delay}ms: ${e.message}`);
      await sleep(delay);
    }
  }
}

/** An AbortController that fires a TimeoutError unless kicked at least every `ms` milliseconds. */
export class Watchdog {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private last = Date.now();

  constructor(private readonly ms: number, private readonly what: string) {
    this.arm(ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Records progress; cheap enough to call per chunk (the timer is re-armed only when it fires). */
  kick(): void {
    this.last = Date.now();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => this.check(), delay);
    this.timer.unref?.();
  }

  private check(): void {
    if (this.timer === undefined || this.controller.signal.aborted) return;
    const idle = Date.now() - this.last;
    if (idle < this.ms) { this.arm(this.ms - idle); return; }
    const err = new Error(`${this.what}: no progress for ${this.ms}ms`);
    err.name = 'TimeoutError';
    this.controller.abort(err);
  }
}
