/**
 * Registry limits the publisher respects. ECR Public completes at most 10 layer uploads per second
 * (CompleteLayerUpload, per region and account) and does not support cross-repository mounts, so with
 * `aws.ecrPublic` every blob upload of the run waits for a shared pacer and inherited layers are copied.
 * Other registries get no pacing and mount layers across repositories of the same registry.
 */
import type { Config } from '../config/config.ts';
import { ecrPublicHost } from '../aws/constants.ts';
import type { TransferPolicy } from '../registry/copy.ts';
import { inTurn, Turns } from '../util/turns.ts';

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
  /** Completion times within the current window, oldest first. */
  private readonly recent: number[] = [];
  private readonly turns: Turns;
  private timerSet = false;
  private held = 0;

  constructor(readonly limit: number, readonly windowMs = 1000, private readonly clock: PacerClock = realClock) {
    if (!(windowMs > 0)) throw new RangeError(`pacer window must be positive, got ${windowMs}`);
    this.turns = new Turns(limit, { what: 'pacer limit', occupied: () => this.completedInWindow() });
  }

  /** Waits for a turn; call the returned function once the upload has completed (or failed). */
  acquire(): Promise<() => void> {
    const asked = this.clock.now();
    const turn = this.turns.acquire();
    this.wakeWhenWindowMoves();
    return turn.then((release) => {
      this.held += this.clock.now() - asked;
      return this.completion(release);
    });
  }

  /** Runs `task` in a turn. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return inTurn(this.acquire(), task);
  }

  /** Total time callers waited for a turn, in ms (for reports). */
  get heldMs(): number {
    return this.held;
  }

  /** Gives the turn back as a completion, which keeps its room until it leaves the window. */
  private completion(release: () => void): () => void {
    let completed = false;
    return () => {
      if (completed) return;
      completed = true;
      this.recent.push(this.clock.now());
      release();
      this.wakeWhenWindowMoves();
    };
  }

  private completedInWindow(): number {
    const now = this.clock.now();
    while (this.recent.length > 0 && this.recent[0]! + this.windowMs <= now) this.recent.shift();
    return this.recent.length;
  }

  /**
   * With callers waiting, a turn frees up when the oldest completion leaves the window (or, with none
   * in the window, when an upload completes, which admits the next caller itself).
   */
  private wakeWhenWindowMoves(): void {
    if (this.turns.queued === 0 || this.completedInWindow() === 0 || this.timerSet) return;
    this.timerSet = true;
    void this.clock.sleep(Math.max(1, Math.ceil(this.recent[0]! + this.windowMs - this.clock.now()))).then(() => {
      this.timerSet = false;
      this.turns.admit();
      this.wakeWhenWindowMoves();
    });
  }
}
