/**
 * Stopping a run on request (SIGTERM from a cancelled CI build, SIGINT from a terminal): the request is
 * only noted; the run stops at its next safe point — before a stage, before a build starts — where the
 * journal is consistent, so that the lease is released and the same command resumes the release. Work
 * already under way (builds started, an announcement being sent) is finished first.
 */
import { constants } from 'node:os';
import { EksdError } from '../errors.ts';

export class StopRequest {
  private received: NodeJS.Signals | undefined;

  /** The signal that asked the run to stop, if any. */
  get signal(): NodeJS.Signals | undefined {
    return this.received;
  }

  /** Notes a request to stop; the first signal is the one reported. */
  request(signal: NodeJS.Signals): void {
    this.received ??= signal;
  }

  /** A safe point: throws RUN_INTERRUPTED when a stop was asked for. `before` says what would have started. */
  check(before: string): void {
    if (this.received) throw this.error(before);
  }

  error(before: string): EksdError {
    return new EksdError('RUN_INTERRUPTED', `stopped by ${this.received ?? 'request'} before ${before}`, {
      hint: 'nothing half-done was left: run the same command again to resume where this run stopped',
    });
  }
}

/** The conventional exit code of a process ended by `signal`: 128 + its number (SIGINT 130, SIGTERM 143). */
export function exitCodeFor(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 15);
}
