/**
 * Turns handed out in the order they were asked for: at most `limit` held at once, and fewer while
 * `occupied()` counts other uses of the same room (the upload pacer's completions still within its
 * window). The one wait queue under limiter() (util/limit.ts), the registry's per-host gate and the
 * upload pacer.
 */
export class Turns {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  private readonly occupied: () => number;

  /** `what` names the limit in the error for one that is not a positive integer. */
  constructor(readonly limit: number, options: { what?: string; occupied?: () => number } = {}) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`${options.what ?? 'limit'} must be a positive integer, got ${limit}`);
    this.occupied = options.occupied ?? (() => 0);
  }

  /** Waits for a turn; the returned function gives it back (calls after the first do nothing). */
  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      this.waiting.push(() => {
        this.held++;
        resolve(this.giveBack());
      });
      this.admit();
    });
  }

  /** Runs `task` in a turn. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return inTurn(this.acquire(), task);
  }

  /** Hands out turns while there is room; call it when `occupied()` may have dropped. */
  admit(): void {
    while (this.waiting.length > 0 && this.held + this.occupied() < this.limit) this.waiting.shift()!();
  }

  /** Turns held now. */
  get inUse(): number {
    return this.held;
  }

  /** Callers waiting for a turn. */
  get queued(): number {
    return this.waiting.length;
  }

  private giveBack(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      this.admit();
    };
  }
}

/** Runs `task` once `turn` is granted, and gives the turn back when the task has settled. */
export async function inTurn<T>(turn: Promise<() => void>, task: () => Promise<T>): Promise<T> {
  const release = await turn;
  try {
    return await task();
  } finally {
    release();
  }
}
