/**
 * The parent image's root filesystem as metadata (type, mode, owner, link target; no content), read once
 * from its layers with whiteouts applied, so the assembler knows which directories exist, their owner and
 * mode, and where symlinks lead. tar-stream reads the layers; gunzip is node:zlib.
 */
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import type { Descriptor } from '../../image/media-types.ts';
import type { RegistryClient } from '../../registry/client.ts';
import type { FsNode, NodeType } from './tree.ts';

export type ParentFs = ReadonlyMap<string, FsNode>;

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** The flattened filesystem of gzip layer streams, bottom layer first. */
export async function readParentFs(layers: Array<() => Promise<NodeJS.ReadableStream>>): Promise<ParentFs> {
  const fs = new Map<string, FsNode>([['', { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 }]]);
  for (const open of layers) await applyLayer(fs, await open());
  return fs;
}

/** The parent's filesystem read from the registry (layers in manifest order). */
export function parentFsFromRegistry(client: RegistryClient, repository: string, layers: Descriptor[]): Promise<ParentFs> {
  return readParentFs(layers.map((l) => () => client.getBlobStream(repository, l.digest)));
}

function applyLayer(fs: Map<string, FsNode>, gz: NodeJS.ReadableStream): Promise<void> {
  const ex = extract();
  const opaque: string[] = [];
  const added = new Map<string, FsNode>();
  return new Promise((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const path = h.name.replace(/^\.?\/+/, '').replace(/\/+$/, '');
      const base = path.slice(path.lastIndexOf('/') + 1);
      const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
      if (base === OPAQUE) opaque.push(dir);
      else if (base.startsWith(WHITEOUT)) removeTree(fs, dir ? `${dir}/${base.slice(WHITEOUT.length)}` : base.slice(WHITEOUT.length));
      else if (path !== '') added.set(path, node(h));
      stream.on('end', next);
      stream.resume();
    });
    ex.on('finish', () => {
      for (const dir of opaque) for (const p of [...fs.keys()]) if (p.startsWith(`${dir}/`) && !added.has(p)) fs.delete(p);
      for (const [p, n] of added) {
        if (n.type !== 'dir') removeTree(fs, p);
        fs.set(p, n);
      }
      resolve();
    });
    ex.on('error', reject);
    gz.on('error', reject);
    gz.pipe(createGunzip()).on('error', reject).pipe(ex);
  });
}

function node(h: { type?: string | null; mode?: number; uid?: number; gid?: number; size?: number; linkname?: string | null }): FsNode {
  const type: NodeType = h.type === 'directory' ? 'dir' : h.type === 'file' || h.type === 'contiguous-file' ? 'file' : h.type === 'symlink' ? 'symlink' : 'other';
  return { type, mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, size: h.size ?? 0, ...(h.linkname ? { linkname: h.linkname } : {}) };
}

function removeTree(fs: Map<string, FsNode>, path: string): void {
  fs.delete(path);
  for (const p of [...fs.keys()]) if (p.startsWith(`${path}/`)) fs.delete(p);
}
