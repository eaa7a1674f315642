/**
 * The retry budget of a registry host as a whole (a circuit breaker, cockatiel's): each request has its
 * own retries, but a host that fails every request, one request after another, would otherwise cost each
 * of them its whole budget in turn. Once `failures` attempts in a row have failed over at least
 * `windowMs` with no success in between, the host is given up on: every further request fails at once
 * with REGISTRY_HOST_DOWN naming the host. After `coolDownMs` one request is let through to try it
 * again; its success closes the breaker, its failure opens it for another cool-down.
 *
 * A failure is what the retries would retry (a network error, a timeout, 408, 429, 5xx); any other
 * answer, a 404 or a 401 included, shows the host is alive.
 */
import { BrokenCircuitError, CircuitState, circuitBreaker, handleWhen, type CircuitBreakerPolicy, type IBreaker } from 'cockatiel';
import { RegistryError } from './errors.ts';

export interface HostBudgetPolicy {
  /** Failed attempts in a row, with no success between them, before the host is given up on (default 6). */
  failures: number;
  /** ...which must span at least this long, from the first of them (default 10 000 ms). */
  windowMs: number;
  /** How long the host is given up on before one request tries it again (default 30 000 ms). */
  coolDownMs: number;
}

export const DEFAULT_HOST_BUDGET: HostBudgetPolicy = { failures: 6, windowMs: 10_000, coolDownMs: 30_000 };

/** Opens after `failures` consecutive failures spanning at least `windowMs`. */
class FailingForBreaker implements IBreaker {
  state = { count: 0, since: 0 };

  constructor(private readonly o: HostBudgetPolicy) {}

  success(): void {
    this.state = { count: 0, since: 0 };
  }

  failure(): boolean {
    const now = Date.now();
    if (this.state.count === 0) this.state.since = now;
    this.state.count++;
    return this.state.count >= this.o.failures && now - this.state.since >= this.o.windowMs;
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)}s`;

const isFailure = (e: unknown): boolean => e instanceof RegistryError && e.retryable;

/**
 * The attempt's outcome, an error that is no failure of the host (a 404, a 401, a digest mismatch)
 * included: the breaker counts it as the success it is (it counts only what it sees thrown).
 */
async function answered<T>(attempt: () => Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await attempt() };
  } catch (e) {
    if (isFailure(e)) throw e;
    return { error: e };
  }
}

export class HostBudget {
  private readonly breaker: FailingForBreaker;
  private readonly policy: CircuitBreakerPolicy;
  /** What the host last failed with. */
  private lastFailure: RegistryError | undefined;

  constructor(readonly registry: string, readonly o: HostBudgetPolicy = DEFAULT_HOST_BUDGET) {
    this.breaker = new FailingForBreaker(o);
    this.policy = circuitBreaker(handleWhen(isFailure), { halfOpenAfter: o.coolDownMs, breaker: this.breaker });
  }

  /** Runs one attempt against the host, or fails at once with REGISTRY_HOST_DOWN while the host is given up on. */
  async run<T>(attempt: () => Promise<T>): Promise<T> {
    try {
      const outcome = await this.policy.execute(() => answered(attempt));
      if ('error' in outcome) throw outcome.error;
      return outcome.value;
    } catch (e) {
      if (e instanceof BrokenCircuitError) throw this.downError(e);
      if (e instanceof RegistryError && e.retryable) this.lastFailure = e;
      throw e;
    }
  }

  /**
   * The error a request ends with: when its retries ran out while the host is given up on (its last
   * attempt was the failure that gave it up), the host's error, since what failed is the host; else its own.
   */
  outcome(e: unknown): unknown {
    const down = this.policy.state === CircuitState.Open || this.policy.state === CircuitState.HalfOpen;
    return down && e instanceof RegistryError && e.code !== 'REGISTRY_HOST_DOWN' && e.cause instanceof RegistryError && e.cause.retryable
      ? this.downError(e) : e;
  }

  private downError(cause: unknown): RegistryError {
    const last = this.lastFailure ? `; the last failure: ${this.lastFailure.message}` : '';
    return new RegistryError('REGISTRY_HOST_DOWN',
      `registry ${this.registry} is given up on: it failed ${this.o.failures} or more attempts in a row over ${seconds(this.o.windowMs)} or more, `
      + `with no success, and is tried again ${seconds(this.o.coolDownMs)} after that${last}`, {
        where: this.registry, cause, retryable: false,
        hint: `check that ${this.registry} is up and reachable from this machine (its address in the configuration, DNS, proxies), `
          + 'then run the same command again: the run resumes where it stopped',
      });
  }
}
