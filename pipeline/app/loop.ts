/**
 * The loop that runs a list of stages. It owns what every stage needs and none should do itself: the
 * order, stopping early (`--until`, a dry run, a stage's own stop condition), timing and progress events,
 * the channel's lease, opening the run, and checkpoints.
 *
 * The lease is taken here and nowhere else: before the stage that `opensRun` (never on a dry run), and
 * released when the list ends, however it ends (done, stopped, failed). Then the list's `open` reads what
 * the run needs under the lease (a release: its journal and number), handed to the stages as `run`.
 * Each stage's output is recorded (when the run has a journal) before the stage is reported finished, and
 * a resumed run hands every stage what the interrupted run recorded, through `recorded`: stages never
 * see the journal. A run asked to stop (`stop`: SIGTERM, SIGINT) stops before the next stage, or at a
 * stage's own safe point (`stopPoint`, between builds), never inside a stage's step: what is recorded
 * stays consistent and the next run resumes from it.
 */
import type { Emit } from '../stages/events.ts';
import type { LoopEnd, OpenedRun, Stage, StageInput, StageTools } from '../stages/stage.ts';
import { acquireLease, releaseAfterRun, type Lease } from '../store/lease.ts';
import type { Store } from '../store/store.ts';
import type { StopRequest } from './stop.ts';

export type { LoopEnd } from '../stages/stage.ts';

export interface Checkpoints<O> {
  record<K extends keyof O & string>(stage: K, output: O[K]): Promise<void>;
}

export interface OpenRun<O, R> {
  journal?: Checkpoints<O>;
  /** What an interrupted run recorded (empty for a new run). */
  recorded: Partial<O>;
  /** What the stages get as `run`, beside the lease (a release: its number, where its journal is). */
  run: R;
  /** Called when the list ends without failing, while the lease is still held (a release closes its journal). */
  close?(end: LoopEnd): Promise<void>;
}

/** The lease a list runs under: a channel's, in the state store; `command` tells people who holds it. */
export interface LeaseRequest { store: Store; channel: string; command: string; ttlSeconds: number }

export interface LoopOptions<O, R> {
  emit: Emit;
  /** Stop after this stage. */
  until?: keyof O & string;
  dryRun?: boolean;
  /** Taken before the stage that `opensRun` (or the first stage), except on a dry run. */
  lease?: LeaseRequest;
  /** Called once, right after the lease is taken (none on a dry run), before the stage that `opensRun` (or the first stage). */
  open?: () => Promise<OpenRun<O, R>>;
  /** Asked to stop: checked before every stage and at the stages' safe points. */
  stop?: StopRequest;
}

export interface LoopResult<O, R> {
  out: Partial<O>;
  end: LoopEnd;
  /** What `open` gave, when the run was opened. */
  run?: R;
}

export async function runStages<O, R = object>(stages: ReadonlyArray<Stage<O, keyof O & string, R>>, o: LoopOptions<O, R>): Promise<LoopResult<O, R>> {
  const held: { lease?: Lease } = {};
  try {
    return await runInOrder(stages, o, held);
  } finally {
    await releaseAfterRun(held.lease, (message) => o.emit({ type: 'info', message }));
  }
}

async function runInOrder<O, R>(stages: ReadonlyArray<Stage<O, keyof O & string, R>>, o: LoopOptions<O, R>, held: { lease?: Lease }): Promise<LoopResult<O, R>> {
  const out: Partial<O> = {};
  let opened: OpenRun<O, R> | undefined;
  let run: OpenedRun<R> | undefined;
  const opener = stages.find((s) => s.opensRun) ?? stages[0];
  const finish = async (end: LoopEnd): Promise<LoopResult<O, R>> => {
    await opened?.close?.(end);
    return { out, end, ...(opened ? { run: opened.run } : {}) };
  };
  for (const [i, s] of stages.entries()) {
    if (o.dryRun && !s.dry) return finish({ by: 'dry-run' });
    o.stop?.check(`the ${s.name} stage`);
    if (s === opener) {
      if (o.lease && !o.dryRun) held.lease = await takeLease(o.lease);
      // A list without `open` has nothing to read when its run opens: its stages get only the lease.
      opened = await o.open?.() ?? { recorded: {}, run: {} as R };
      run = { ...opened.run, ...(held.lease ? { lease: held.lease } : {}) };
    }
    const output = await runOne(s, { out, recorded: opened?.recorded ?? {}, ...(run ? { run } : {}) }, o, opened?.journal);
    out[s.name] = output;
    const end = endAfter(s, output, i === stages.length - 1, o);
    if (end) return finish(end);
  }
  return finish({ by: 'end' });
}

/** The one place a lease is acquired. */
function takeLease(request: LeaseRequest): Promise<Lease> {
  return acquireLease(request.store, request.channel, request.command, { ttlSeconds: request.ttlSeconds });
}

/** One stage, timed and reported; its output recorded before it is reported finished. */
async function runOne<O, R, K extends keyof O & string>(s: Stage<O, K, R>, input: StageInput<O, R>, o: LoopOptions<O, R>, journal?: Checkpoints<O>): Promise<O[K]> {
  const started = Date.now();
  o.emit({ type: 'stage', stage: s.name, state: 'started' });
  const tools: StageTools<O[K]> = { emit: o.emit, checkpoint: async (partial) => { if (!o.dryRun) await journal?.record(s.name, partial); },
    stopPoint: (before) => o.stop?.check(before) };
  const output = await s.run(input, tools);
  if (!o.dryRun && s.checkpointed) await journal?.record(s.name, output);
  const detail = s.detail?.(output);
  o.emit({ type: 'stage', stage: s.name, state: 'finished', ms: Date.now() - started, ...(detail ? { detail } : {}) });
  return output;
}

/** Whether the list ends after `s`: its own stop condition, the last stage, or `until`. */
function endAfter<O, R, K extends keyof O & string>(s: Stage<O, K, R>, output: O[K], last: boolean, o: LoopOptions<O, R>): LoopEnd | undefined {
  if (s.stopsIf?.(output)) return { by: 'stage', stage: s.name };
  if (!last && s.name !== o.until) return undefined;
  if (o.dryRun) return { by: 'dry-run' };
  return last ? { by: 'end' } : { by: 'until', stage: s.name };
}
