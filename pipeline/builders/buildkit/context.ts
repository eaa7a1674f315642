/** The build context as BuildKit takes it: a deterministic tar (fixed mtime, owner as listed), streamed file by file. */
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import type { ContextFile } from '../../image/context.ts';

/** A deterministic tar of the context (fixed mtime, owner as listed), streamed file by file. */
export function contextTar(files: ContextFile[]): Readable {
  const p = pack();
  (async () => {
    for (const f of files) {
      const header = { name: f.name, mode: f.mode, mtime: new Date(0), uid: f.uid ?? 0, gid: f.gid ?? 0, uname: '', gname: '' };
      const content = f.type === 'dir' ? undefined : await readFile(f.source);
      await new Promise<void>((resolve, reject) => {
        const done = (e?: Error | null) => (e ? reject(e) : resolve());
        if (content) p.entry(header, content, done); else p.entry({ ...header, type: 'directory' }, done);
      });
    }
    p.finalize();
  })().catch((e) => p.destroy(e as Error));
  return Readable.from(p);
}
