/**
 * The loop that runs a list of stages. It owns what every stage needs and none should do itself: the
 * order, stopping early (`--until`, a dry run, a stage's own stop condition), timing and progress events,
 * and checkpoints. Each stage's output is recorded (when the run has a journal) before the stage is
 * reported finished, and a resumed run hands every stage what the interrupted run recorded, through
 * `recorded`: stages never see the journal. A run asked to stop (`stop`: SIGTERM, SIGINT) stops before
 * the next stage, or at a stage's own safe point (`stopPoint`, between builds), never inside a stage's
 * step: what is recorded stays consistent and the next run resumes from it.
 */
import type { Emit } from '../stages/events.ts';
import type { Stage, StageTools } from '../stages/stage.ts';
import type { StopRequest } from './stop.ts';

export interface Checkpoints<O> {
  record<K extends keyof O & string>(stage: K, output: O[K]): Promise<void>;
}

export interface OpenRun<O> {
  journal?: Checkpoints<O>;
  /** What an interrupted run recorded (empty for a new run). */
  recorded: Partial<O>;
}

export interface LoopOptions<O> {
  emit: Emit;
  /** Stop after this stage. */
  until?: keyof O & string;
  dryRun?: boolean;
  /** Called once, before the stage that `opensRun` (or the first stage). */
  open?: () => Promise<OpenRun<O>>;
  /** Asked to stop: checked before every stage and at the stages' safe points. */
  stop?: StopRequest;
}

export async function runStages<O>(stages: ReadonlyArray<Stage<O, keyof O & string>>, o: LoopOptions<O>): Promise<Partial<O>> {
  const out: Partial<O> = {};
  let run: OpenRun<O> | undefined;
  const opener = stages.find((s) => s.opensRun) ?? stages[0];
  for (const s of stages) {
    if (o.dryRun && !s.dry) break;
    o.stop?.check(`the ${s.name} stage`);
    if (s === opener) run = await o.open?.();
    const recorded = run?.recorded ?? {};
    const journal = run?.journal;
    const started = Date.now();
    o.emit({ type: 'stage', stage: s.name, state: 'started' });
    const tools: StageTools<O[typeof s.name]> = { emit: o.emit, checkpoint: async (partial) => { if (!o.dryRun) await journal?.record(s.name, partial); },
      stopPoint: (before) => o.stop?.check(before) };
    const output = await s.run({ out, recorded }, tools);
    out[s.name] = output;
    if (!o.dryRun && s.checkpointed) await journal?.record(s.name, output);
    const detail = s.detail?.(output);
    o.emit({ type: 'stage', stage: s.name, state: 'finished', ms: Date.now() - started, ...(detail ? { detail } : {}) });
    if (s.name === o.until || s.stopsIf?.(output)) break;
  }
  return out;
}
