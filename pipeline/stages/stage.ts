/**
 * What a stage is: a name and `run(input) -> output`, where the input is the outputs of the stages
 * before it, what an interrupted run recorded and the open run (its lease, and what the list's `open`
 * read: a release's number), and the output is plain data. The loop (app/loop.ts) runs a list of them;
 * stages/lists/ holds the lists.
 */
import { bug } from '../errors.ts';
import type { Lease } from '../store/lease.ts';
import type { Emit } from './events.ts';

/** The run as the stages see it once it is open: what the list's `open` read, and the lease (none on a dry run). */
export type OpenedRun<R> = R & { lease?: Lease };

export interface StageInput<O, R = object> {
  /** The outputs of the stages that ran before this one, in this run. */
  out: Partial<O>;
  /** What an interrupted run of the same release recorded, by stage (empty on a first run). */
  recorded: Partial<O>;
  /** Set from the stage that opens the run on. */
  run?: OpenedRun<R>;
}

/** How a list ended (a failure throws), as the loop reports it: a list's outcome is read from this, not from which outputs exist. */
export type LoopEnd =
  | { by: 'end' }
  /** A dry run, wherever it stopped. */
  | { by: 'dry-run' }
  | { by: 'until'; stage: string }
  /** A stage's `stopsIf`. */
  | { by: 'stage'; stage: string };

export interface StageTools<T> {
  emit: Emit;
  /** Records partial progress of a long stage, handed back to a resumed run as its `recorded` output. */
  checkpoint(partial: T): Promise<void>;
  /**
   * A safe point inside a long stage (before a build starts): throws when the run was asked to stop
   * (SIGTERM, SIGINT). `before` names what would have started, for the message.
   */
  stopPoint(before: string): void;
}

export interface Stage<O, K extends keyof O = keyof O, R = object> {
  name: K & string;
  run(input: StageInput<O, R>, tools: StageTools<O[K]>): Promise<O[K]>;
  /** Runs on a dry run too (it has no side effects); a dry run stops before the first stage without it. */
  dry?: boolean;
  /**
   * The run is opened before this stage (the first one that needs the lease, or what `open` reads): the
   * loop takes the list's lease (except on a dry run), then calls the list's `open` (a release: the
   * journal and the release number). The lease is held until the list ends, however it ends.
   */
  opensRun?: boolean;
  /** Its output is recorded in the journal and handed to a resumed run (stages that are cheap to redo are not). */
  checkpointed?: boolean;
  /** One line for the progress report, from the output. */
  detail?(output: O[K]): string;
  /** Stop the run after this stage (its output says why, for the caller to report). */
  stopsIf?(output: O[K]): boolean;
}

/** Builds a stage entry, so the list type-checks each one against its own output type. */
export function stage<O, K extends keyof O & string, R = object>(name: K, run: Stage<O, K, R>['run'], o: Omit<Stage<O, K, R>, 'name' | 'run'> = {}): Stage<O, K, R> {
  return { name, run, ...o };
}

/** The output of an earlier stage, which the list guarantees has run. */
export function need<O, K extends keyof O & string>(out: Partial<O>, name: K): NonNullable<O[K]> {
  const value = out[name];
  if (value === undefined || value === null) bug(`stage output '${name}' is used before its stage ran`, 'the stage list is out of order; this is a bug');
  return value as NonNullable<O[K]>;
}

/** The open run, which the list guarantees is open before this stage. */
export function opened<R>(run: OpenedRun<R> | undefined): OpenedRun<R> {
  return run ?? bug('a stage needs the run before the stage that opens it', 'mark an earlier stage of the list opensRun; this is a bug');
}

/** The lease, which the list guarantees is held here: after the stage that opens the run, and never on a dry run. */
export function leaseOf<R>(run: OpenedRun<R> | undefined): Lease {
  return opened(run).lease ?? bug('a stage that needs the lease ran without it (before the run opened, or on a dry run)', 'the stage list is out of order; this is a bug');
}
