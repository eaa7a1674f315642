/**
 * The run journal: what each stage of one release run finished, with its output, written to the state
 * store by the loop after every stage and at every checkpoint (a file locally, an S3 object in
 * production, so a run resumed on another machine finds it). A run killed at any moment and started
 * again reads it, keeps the same release number and hands each stage what was recorded for it.
 */
import { EksdError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import type { Checkpoints } from './loop.ts';

export interface JournalData {
  channel: string;
  number: number;
  startedAt: string;
  /** Each stage's recorded output (or partial progress), by stage name. */
  stages: Record<string, unknown>;
}

export class Journal<O> implements Checkpoints<O> {
  private writes: Promise<void> = Promise.resolve();

  /** where the journal lives, for messages */
  readonly file: string;

  private constructor(private readonly store: Store, private readonly key: string, readonly data: JournalData) {
    this.file = store.where(key);
  }

  static key(channel: string, name = 'current'): string {
    return `runs/${channel}/${name}.json`;
  }

  /**
   * The unfinished run of a channel, if one was interrupted. A run is finished only once it is closed
   * (archived as `<number>.json`, then `current.json` removed): a run killed after its last stage but
   * before closing is still unfinished, so the next run finishes it under the same number instead of
   * starting another release.
   */
  static async unfinished<O>(store: Store, channel: string): Promise<Journal<O> | undefined> {
    const key = Journal.key(channel);
    const found = await store.get(key);
    if (!found) return undefined;
    const data = parseJournal(found.bytes.toString('utf8'), store.where(key));
    // Archived already: closed (killed between archiving and removing current.json).
    const archived = await store.get(Journal.key(channel, String(data.number)));
    if (archived && archived.bytes.equals(found.bytes)) return undefined;
    return new Journal<O>(store, key, data);
  }

  static async start<O>(store: Store, channel: string, number: number): Promise<Journal<O>> {
    const journal = new Journal<O>(store, Journal.key(channel), { channel, number, startedAt: new Date().toISOString(), stages: {} });
    await journal.save();
    return journal;
  }

  /** What the interrupted run recorded, by stage. */
  get recorded(): Partial<O> {
    return structuredClone(this.data.stages) as Partial<O>;
  }

  /** Records a stage's output; writes are serialized so none is lost. */
  record<K extends keyof O & string>(stage: K, output: O[K]): Promise<void> {
    this.data.stages[stage] = output;
    return this.save();
  }

  private save(): Promise<void> {
    const snapshot = JSON.stringify(this.data, null, 1);
    this.writes = this.writes.then(async () => { await this.store.put(this.key, snapshot); });
    return this.writes;
  }

  /** Drops a run that had nothing to release: nothing was tagged or written, and its number stays free. */
  async discard(): Promise<void> {
    await this.writes;
    await this.store.delete(this.key);
  }

  /**
   * Closes a finished run: keeps its journal under its release number, then removes `current.json`.
   * Either step may be interrupted; `unfinished` treats a run whose archive equals it as closed.
   */
  async archive(): Promise<void> {
    await this.writes;
    await this.store.put(Journal.key(this.data.channel, String(this.data.number)), JSON.stringify(this.data, null, 1));
    await this.store.delete(this.key);
  }
}

/** A journal as read back: JSON with a channel, a release number and stage records, else RUN_JOURNAL_CORRUPT. */
function parseJournal(text: string, file: string): JournalData {
  let data: Partial<JournalData> | undefined;
  let why = 'it is not an object with channel, number and stages';
  try {
    data = JSON.parse(text) as Partial<JournalData>;
  } catch (e) {
    why = `it is not valid JSON (${(e as Error).message})`;
  }
  const ok = data !== null && typeof data === 'object' && typeof data.channel === 'string' && Number.isSafeInteger(data.number)
    && data.stages !== null && typeof data.stages === 'object' && !Array.isArray(data.stages);
  if (ok) return data as JournalData;
  throw new EksdError('RUN_JOURNAL_CORRUPT', `the run journal ${file} cannot be read: ${why}`, {
    where: file,
    hint: `restore it from a backup to resume that run, or move it aside (mv ${file} ${file}.corrupt) and run again: the release starts over, reusing every image already pushed`,
  });
}
