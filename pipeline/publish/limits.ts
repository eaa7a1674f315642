/**
 * Registry limits the publisher respects. ECR Public completes at most 10 layer uploads per second
 * (CompleteLayerUpload, per region and account) and does not support cross-repository mounts, so with
 * `aws.ecrPublic` every blob upload of the run waits for a shared pacer and inherited layers are copied.
 * Other registries get no pacing and mount layers across repositories of the same registry.
 */
import type { Config } from '../config/config.ts';
import { ecrPublicHost } from '../aws/constants.ts';
import type { TransferPolicy } from '../registry/copy.ts';

/** ECR Public's default CompleteLayerUpload quota. */
export const ECR_PUBLIC_BLOB_UPLOADS_PER_SECOND = 10;

export interface PublishLimits {
  /** Try a cross-repository mount before copying a blob within one registry. */
  crossRepoMount: boolean;
  /** A turn per blob upload, held until the upload has completed; absent: unpaced. */
  uploads?: Pacer;
}

/** No pacing, mounts allowed: any OCI distribution registry. */
export const UNLIMITED: PublishLimits = { crossRepoMount: true };

/**
 * The limits of the registry a run publishes to, with one pacer shared by the whole run: ECR Public's
 * when the profile uses it (and `registry`, when given, is the ECR Public host), else none.
 */
export function publishLimits(config: Pick<Config, 'aws'>, registry?: string): PublishLimits {
  if (!config.aws.ecrPublic) return UNLIMITED;
  if (registry !== undefined && registry !== ecrPublicHost(config.aws)) return UNLIMITED;
  return { crossRepoMount: false, uploads: new Pacer(ECR_PUBLIC_BLOB_UPLOADS_PER_SECOND) };
}

/** The limits as the registry client's transfer policy: mounts allowed or not, uploads in the pacer's turns. */
export function transferPolicy(limits: PublishLimits): TransferPolicy {
  const pacer = limits.uploads;
  return { crossRepoMount: limits.crossRepoMount, ...(pacer ? { pace: (transfer) => pacer.run(transfer) } : {}) };
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
 * Paces uploads so that at most `limit` of them complete in any window of `windowMs`. An upload may
 * start only while the uploads in flight plus those that completed within the last window are fewer
 * than `limit`. Whenever the registry sees a completion, that upload was in flight or had just
 * completed when every later upload started, so no window ever holds more than `limit` completions,
 * however long each upload takes. Callers are served in the order they asked; idle time is not owed
 * (after a quiet window a burst of `limit` passes at once).
 */
export class Pacer {
  private inflight = 0;
  /** Completion times within the current window, oldest first. */
  private readonly recent: number[] = [];
  private readonly waiting: Array<() => void> = [];
  private timerSet = false;
  private held = 0;

  constructor(readonly limit: number, readonly windowMs = 1000, private readonly clock: PacerClock = realClock) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`pacer limit must be a positive integer, got ${limit}`);
    if (!(windowMs > 0)) throw new RangeError(`pacer window must be positive, got ${windowMs}`);
  }

  /** Waits for a turn; call the returned function once the upload has completed (or failed). */
  acquire(): Promise<() => void> {
    const asked = this.clock.now();
    return new Promise((resolve) => {
      this.waiting.push(() => {
        this.held += this.clock.now() - asked;
        this.inflight++;
        resolve(this.releaser());
      });
      this.pump();
    });
  }

  /** Runs `task` in a turn. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }

  /** Total time callers waited for a turn, in ms (for reports). */
  get heldMs(): number {
    return this.held;
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inflight--;
      this.recent.push(this.clock.now());
      this.pump();
    };
  }

  private pump(): void {
    const now = this.clock.now();
    while (this.recent.length > 0 && this.recent[0]! + this.windowMs <= now) this.recent.shift();
    while (this.waiting.length > 0 && this.inflight + this.recent.length < this.limit) this.waiting.shift()!();
    // Still waiting: a turn frees up when the oldest completion leaves the window (or, with none in the
    // window, when an upload completes: release() pumps).
    if (this.waiting.length > 0 && this.recent.length > 0 && !this.timerSet) {
      this.timerSet = true;
      void this.clock.sleep(Math.max(1, Math.ceil(this.recent[0]! + this.windowMs - now))).then(() => {
        this.timerSet = false;
        this.pump();
      });
    }
  }
}
