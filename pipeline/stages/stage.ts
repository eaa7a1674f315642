/**
 * What a stage is: a name and `run(input) -> output`, where the input is the outputs of the stages
 * before it (and what an interrupted run recorded) and the output is plain data. The loop (run/loop.ts)
 * runs a list of them; stages/list.ts holds the lists.
 */
import { bug } from '../errors.ts';
import type { Emit } from './events.ts';

export interface StageInput<O> {
  /** The outputs of the stages that ran before this one, in this run. */
  out: Partial<O>;
  /** What an interrupted run of the same release recorded, by stage (empty on a first run). */
  recorded: Partial<O>;
}

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

export interface Stage<O, K extends keyof O = keyof O> {
  name: K & string;
  run(input: StageInput<O>, tools: StageTools<O[K]>): Promise<O[K]>;
  /** Runs on a dry run too (it has no side effects); a dry run stops before the first stage without it. */
  dry?: boolean;
  /**
   * The run is opened before this stage (the first one that needs the release number): the caller's
   * `open` takes the lease and reads the journal, whose records the stages then get.
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
export function stage<O, K extends keyof O & string>(name: K, run: Stage<O, K>['run'], o: Omit<Stage<O, K>, 'name' | 'run'> = {}): Stage<O, K> {
  return { name, run, ...o };
}

/** The output of an earlier stage, which the list guarantees has run. */
export function need<O, K extends keyof O & string>(out: Partial<O>, name: K): NonNullable<O[K]> {
  const value = out[name];
  if (value === undefined || value === null) bug(`stage output '${name}' is used before its stage ran`, 'the stage list is out of order; this is a bug');
  return value as NonNullable<O[K]>;
}
