/**
 * Deterministic tar archives: fixed mtime, uid/gid 0, sorted entries. The same files always give the
 * same bytes, so build contexts hash stably and stand-in artifacts have stable checksums.
 */
import { gzipSync } from 'node:zlib';
import { pack, extract } from 'tar-stream';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { dirname, join, normalize, isAbsolute } from 'node:path';

export interface TarEntry {
  name: string;
  /** File content; absent for a directory. */
  content?: Buffer;
  mode?: number;
  /** Target of a symbolic link. */
  linkname?: string;
}

const EPOCH = new Date(0);

export async function tarBuffer(entries: TarEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of tarStream(entries)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function tarStream(entries: TarEntry[]): Readable {
  const p = pack();
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of sorted) {
    const header = { name: e.name, mtime: EPOCH, uid: 0, gid: 0, uname: '', gname: '' };
    if (e.linkname !== undefined) p.entry({ ...header, type: 'symlink', linkname: e.linkname, mode: 0o777 });
    else if (e.content === undefined) p.entry({ ...header, type: 'directory', mode: e.mode ?? 0o755 });
    else p.entry({ ...header, type: 'file', mode: e.mode ?? 0o644 }, e.content);
  }
  p.finalize();
  return Readable.from(p);
}

export async function tarGzBuffer(entries: TarEntry[]): Promise<Buffer> {
  return gzipSync(await tarBuffer(entries), { level: 6 });
}

/** Unpacks a .tar.gz into dir, refusing entries that escape it. Returns the file paths written. */
export async function extractTarGz(file: string, dir: string): Promise<string[]> {
  const written: string[] = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const name = normalize(header.name);
      if (isAbsolute(name) || name.startsWith('..')) {
        stream.resume();
        reject(new Error(`archive entry escapes the target folder: ${header.name}`));
        return;
      }
      const target = join(dir, name);
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => { chunks.push(c as Buffer); });
      stream.on('end', () => {
        const write = header.type === 'file'
          ? mkdir(dirname(target), { recursive: true })
            .then(() => writeFile(target, Buffer.concat(chunks)))
            .then(() => chmod(target, (header.mode ?? 0o644) & 0o777))
            .then(() => { written.push(name); })
          : header.type === 'directory' ? mkdir(target, { recursive: true }).then(() => undefined) : Promise.resolve();
        write.then(() => next(), reject);
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  createReadStream(file).pipe(createGunzip()).on('error', (e) => ex.destroy(e)).pipe(ex);
  await done;
  return written;
}
