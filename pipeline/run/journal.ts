/**
 * The run journal: what each stage of one release run finished, with its outputs, written to the state
 * store after every step (a file locally, an S3 object in production, so a run resumed on another
 * machine finds it). A run killed at any moment and started again reads it, keeps the same release
 * number and redoes only what is not recorded.
 */
import { EksdError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import type { Descriptor } from '../registry/media-types.ts';
import type { BuildInputs } from '../plan/keys.ts';

export interface PlatformRecord {
  key: string; inputs: BuildInputs; manifest: Descriptor; built: boolean;
  /** Why it was built (which input changed), so a resumed run reports what the interrupted one decided. */
  reason?: string;
}

export interface ImageRecord {
  platforms: Record<string, PlatformRecord>;
  index?: Descriptor;
  indexBytes?: string;
  changed?: string;
}

export interface JournalData {
  channel: string;
  number: number;
  startedAt: string;
  images: Record<string, ImageRecord>;
  /** versioned tags point at this run's indexes */
  tagsMoved?: boolean;
  manifest?: { path: string; digest: string };
  verified?: boolean;
  announced?: { messageId: string; at: string };
}

export class Journal {
  private writes: Promise<void> = Promise.resolve();

  /** where the journal lives, for messages */
  readonly file: string;

  private constructor(private readonly store: Store | undefined, private readonly key: string, readonly data: JournalData) {
    this.file = store ? store.where(key) : '';
  }

  static key(channel: string, name = 'current'): string {
    return `runs/${channel}/${name}.json`;
  }

  /**
   * The unfinished run of a channel, if one was interrupted. A run is finished only once it is closed
   * (archived as `<number>.json`, `current.json` removed): a run killed after announcing but before
   * closing is still unfinished, so the next run finishes it under the same number (the announcement
   * itself is skipped by the ledger) instead of starting another release.
   */
  static async unfinished(store: Store, channel: string): Promise<Journal | undefined> {
    const key = Journal.key(channel);
    const found = await store.get(key);
    if (!found) return undefined;
    const data = parseJournal(found.bytes.toString('utf8'), store.where(key));
    // Announced and archived: closed (killed between archiving and removing current.json).
    if (data.announced && await store.get(Journal.key(channel, String(data.number)))) return undefined;
    return new Journal(store, key, data);
  }

  static async start(store: Store, channel: string, number: number): Promise<Journal> {
    const journal = new Journal(store, Journal.key(channel), { channel, number, startedAt: new Date().toISOString(), images: {} });
    await journal.save();
    return journal;
  }

  /** A journal that is never written (dry runs): it has no store. */
  static ephemeral(channel: string, number: number): Journal {
    return new Journal(undefined, '', { channel, number, startedAt: new Date().toISOString(), images: {} });
  }

  image(name: string): ImageRecord {
    return (this.data.images[name] ??= { platforms: {} });
  }

  /** Applies a change and writes the journal; writes are serialized so none is lost. */
  update(change: (d: JournalData) => void): Promise<void> {
    change(this.data);
    return this.save();
  }

  private save(): Promise<void> {
    const snapshot = JSON.stringify(this.data, null, 1);
    this.writes = this.writes.then(async () => { await this.store?.put(this.key, snapshot); });
    return this.writes;
  }

  /**
   * Closes a finished run: keeps its journal under its release number, then removes `current.json`.
   * Either step may be interrupted; `unfinished` treats an announced run with an archive as closed.
   */
  async archive(): Promise<void> {
    await this.writes;
    await this.store?.put(Journal.key(this.data.channel, String(this.data.number)), JSON.stringify(this.data, null, 1));
    await this.store?.delete(this.key);
  }
}

/** A journal as read back: JSON with a channel, a release number and image records, else RUN_JOURNAL_CORRUPT. */
function parseJournal(text: string, file: string): JournalData {
  let data: Partial<JournalData> | undefined;
  let why = 'it is not an object with channel, number and images';
  try {
    data = JSON.parse(text) as Partial<JournalData>;
  } catch (e) {
    why = `it is not valid JSON (${(e as Error).message})`;
  }
  const ok = data !== null && typeof data === 'object' && typeof data.channel === 'string' && Number.isSafeInteger(data.number)
    && data.images !== null && typeof data.images === 'object';
  if (ok) return data as JournalData;
  throw new EksdError('RUN_JOURNAL_CORRUPT', `the run journal ${file} cannot be read: ${why}`, {
    where: file,
    hint: `restore it from a backup to resume that run, or move it aside (mv ${file} ${file}.corrupt) and run again: the release starts over, reusing every image already pushed`,
  });
}
