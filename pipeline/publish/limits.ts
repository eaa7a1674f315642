/**
 * Registry limits the publisher respects. ECR Public completes at most 10 layer uploads per second
 * (CompleteLayerUpload, per region and account) and does not support cross-repository mounts, so with
 * `aws.ecrPublic` every blob upload of the run waits for a shared pacer and inherited layers are copied.
 * Other registries get no pacing and mount layers across repositories of the same registry.
 */
import type { Config } from '../config/config.ts';

/** ECR Public's default CompleteLayerUpload quota. */
export const ECR_PUBLIC_BLOB_UPLOADS_PER_SECOND = 10;

export interface PublishLimits {
  /** Try a cross-repository mount before copying a blob within one registry. */
  crossRepoMount: boolean;
  /** Taken once before each blob upload (each upload completes once); absent: unpaced. */
  uploads?: Pacer;
}

/** No pacing, mounts allowed: any OCI distribution registry. */
export const UNLIMITED: PublishLimits = { crossRepoMount: true };

/** The limits of the registry the configuration pushes to; one pacer shared by the whole run. */
export function publishLimits(config: Pick<Config, 'aws'>): PublishLimits {
  if (!config.aws.ecrPublic) return UNLIMITED;
  return { crossRepoMount: false, uploads: new Pacer(ECR_PUBLIC_BLOB_UPLOADS_PER_SECOND) };
}

export interface PacerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PacerClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A sliding-window pacer: at most `limit` grants in any window of `windowMs`. Callers are served in
 * the order they asked. Grant k + limit comes no sooner than `windowMs` after grant k, so a burst of
 * `limit` passes at once and the steady rate is `limit` per window.
 */
export class Pacer {
  /** Times of the last `limit` grants, oldest first. */
  private readonly grants: number[] = [];
  private queue: Promise<void> = Promise.resolve();
  private waited = 0;

  constructor(readonly limit: number, readonly windowMs = 1000, private readonly clock: PacerClock = realClock) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`pacer limit must be a positive integer, got ${limit}`);
    if (!(windowMs > 0)) throw new RangeError(`pacer window must be positive, got ${windowMs}`);
  }

  /** Resolves when the caller may start one more upload. */
  acquire(): Promise<void> {
    const turn = this.queue.then(async () => {
      if (this.grants.length >= this.limit) {
        const until = this.grants[0]! + this.windowMs;
        for (let wait = until - this.clock.now(); wait > 0; wait = until - this.clock.now()) {
          this.waited += wait;
          await this.clock.sleep(Math.ceil(wait));
        }
        this.grants.shift();
      }
      this.grants.push(this.clock.now());
    });
    this.queue = turn;
    return turn;
  }

  /** Runs `task` after a grant. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    return task();
  }

  /** Total time callers were held back, in ms (for reports). */
  get heldMs(): number {
    return this.waited;
  }
}
