/**
 * The run journal: what each stage of one release run finished, with its outputs, written durably
 * (temp file, fsync, rename) after every step. A run killed at any moment and started again reads it,
 * keeps the same release number and redoes only what is not recorded.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readJson, writeFileAtomic } from '../util/fs-atomic.ts';
import type { Descriptor } from '../build/export.ts';
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
  tagsMoved?: boolean;
  manifest?: { path: string; digest: string };
  verified?: boolean;
  announced?: { messageId: string; at: string };
}

export class Journal {
  private writes: Promise<void> = Promise.resolve();

  private constructor(readonly file: string, readonly data: JournalData) {}

  static dir(stateDir: string, channel: string): string {
    return join(stateDir, 'runs', channel);
  }

  /**
   * The unfinished run of a channel, if one was interrupted. A run is finished only once it is closed
   * (archived as `<number>.json`, `current.json` removed): a run killed after announcing but before
   * closing is still unfinished, so the next run finishes it under the same number (the announcement
   * itself is skipped by the ledger) instead of starting another release.
   */
  static async unfinished(stateDir: string, channel: string): Promise<Journal | undefined> {
    const dir = Journal.dir(stateDir, channel);
    const file = join(dir, 'current.json');
    const data = await readJson<JournalData>(file);
    if (!data) return undefined;
    // Announced and archived: closed (killed between archiving and removing current.json).
    if (data.announced && existsSync(join(dir, `${data.number}.json`))) return undefined;
    return new Journal(file, data);
  }

  static async start(stateDir: string, channel: string, number: number): Promise<Journal> {
    const journal = new Journal(join(Journal.dir(stateDir, channel), 'current.json'),
      { channel, number, startedAt: new Date().toISOString(), images: {} });
    await journal.save();
    return journal;
  }

  /** A journal that is never written (dry runs). */
  static ephemeral(channel: string, number: number): Journal {
    const journal = new Journal('', { channel, number, startedAt: new Date().toISOString(), images: {} });
    journal.save = () => Promise.resolve();
    return journal;
  }

  image(name: string): ImageRecord {
    return (this.data.images[name] ??= { platforms: {} });
  }

  /** Applies a change and writes the journal; writes are serialized so none is lost. */
  update(change: (d: JournalData) => void): Promise<void> {
    change(this.data);
    return this.save();
  }

  private save = (): Promise<void> => {
    const snapshot = JSON.stringify(this.data, null, 1);
    this.writes = this.writes.then(() => writeFileAtomic(this.file, snapshot));
    return this.writes;
  };

  /**
   * Closes a finished run: keeps its journal under its release number, then removes `current.json`.
   * Either step may be interrupted; `unfinished` treats an announced run with an archive as closed.
   */
  async archive(): Promise<void> {
    await this.writes;
    await writeFileAtomic(join(dirname(this.file), `${this.data.number}.json`), JSON.stringify(this.data, null, 1));
    await rm(this.file, { force: true });
  }
}
