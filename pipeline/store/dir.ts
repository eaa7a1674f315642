/**
 * The Store over a directory (the local profile): a key is a path under the root. Create-only writes
 * link a complete temp file into place (fails if it exists); replace-only-this-version compares the
 * content hash (the etag) and swaps under a short pid lock, so two processes on one machine get the
 * same guarantees S3's conditional writes give two hosts. An object's age is its file's mtime against
 * this machine's clock.
 */
import { open, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { EksdError } from '../errors.ts';
import { createFileAtomic, writeFileAtomic } from '../util/fs-atomic.ts';
import { writeFailure } from '../util/fs-errors.ts';
import { withPidLock } from '../util/pid-lock.ts';
import { hashFile } from '../util/checksums.ts';
import { preconditionFailed, sha256Hex, type Body, type Condition, type Store, type StoredObject } from './store.ts';

export class DirStore implements Store {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  readonly local = true;

  where(key: string): string {
    return this.path(key);
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const path = this.path(key);
    try {
      const file = await open(path, 'r');
      try {
        const [bytes, { mtimeMs }] = await Promise.all([file.readFile(), file.stat()]);
        return { bytes, etag: sha256Hex(bytes), ageMs: Math.max(0, Date.now() - mtimeMs) };
      } finally {
        await file.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw storeError(e, 'read', path);
    }
  }

  async read(key: string): Promise<Readable | undefined> {
    const path = this.path(key);
    try {
      return (await open(path, 'r')).createReadStream({ highWaterMark: 1024 * 1024 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw storeError(e, 'read', path);
    }
  }

  list(prefix: string): Promise<string[]> {
    return this.entries(prefix, 'file');
  }

  folders(prefix: string): Promise<string[]> {
    return this.entries(prefix, 'dir');
  }

  private async entries(prefix: string, kind: 'file' | 'dir'): Promise<string[]> {
    const dir = this.path(prefix.replace(/\/+$/, '') || '.');
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      return entries.filter((e) => (kind === 'file' ? e.isFile() : e.isDirectory()) && !e.name.startsWith('.')).map((e) => e.name).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw storeError(e, 'list', dir);
    }
  }

  /** Writes `key`; a file body (an archive) is copied by the kernel, never read into memory. */
  async put(key: string, body: Body, condition: Condition = {}): Promise<string> {
    const path = this.path(key);
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    try {
      if (condition.ifNoneMatch) {
        if (!(await createFileAtomic(path, bytes))) throw preconditionFailed(path, condition);
      } else if (condition.ifMatch !== undefined) {
        await this.swap(key, condition.ifMatch, () => writeFileAtomic(path, bytes), condition);
      } else {
        await writeFileAtomic(path, bytes);
      }
    } catch (e) {
      throw storeError(e, 'write', path);
    }
    return bytes instanceof Uint8Array ? sha256Hex(bytes) : (await hashFile(path)).sha256;
  }

  async delete(key: string, condition: { ifMatch?: string } = {}): Promise<void> {
    const path = this.path(key);
    try {
      if (condition.ifMatch === undefined) await rm(path, { force: true });
      else await this.swap(key, condition.ifMatch, () => rm(path, { force: true }), condition);
    } catch (e) {
      throw storeError(e, 'delete', path);
    }
  }

  /** Runs `change` only while `key` still has `etag`, with other swappers of this key held off. */
  private async swap(key: string, etag: string, change: () => Promise<void>, condition: Condition): Promise<void> {
    const path = this.path(key);
    await withPidLock(`${path}.swap`, async () => {
      const current = await this.get(key);
      if (current?.etag !== etag) throw preconditionFailed(path, condition, current ? 'changed' : 'gone');
      await change();
    }, 60_000);
  }

  private path(key: string): string {
    if (key.split('/').some((s) => s === '..') || key.startsWith('/')) {
      throw new EksdError('STORE_KEY_INVALID', `"${key}" is not a store key`, { where: this.root, hint: 'keys are relative paths without ..' });
    }
    return join(this.root, ...key.split('/').filter(Boolean));
  }
}

/** A full disk or an unwritable folder as util/fs-errors.ts names them (for writes), else STORE_FAILED naming the path. */
function storeError(e: unknown, action: 'read' | 'list' | 'write' | 'delete', path: string): unknown {
  if (e instanceof EksdError) return e;
  const disk = action === 'write' || action === 'delete' ? writeFailure(e, path) : undefined;
  return disk ?? new EksdError('STORE_FAILED', `cannot ${action} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
    where: path, hint: 'check the directory and its permissions, then run again', cause: e,
  });
}
