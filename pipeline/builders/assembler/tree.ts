/**
 * A root filesystem as metadata, with the changes of one step on top, laid out as BuildKit 0.8's file
 * operations lay them out (fsutil's copy and MkdirAll): paths resolved through symlinks inside the root,
 * missing parents made 0755 (owned by --chown, else root), a directory source copying its contents, a
 * file source landing in a destination directory under its own name or renamed to the destination. The
 * layer of a step holds what it changed plus every directory on the way there, as the engine's overlay
 * upper directory does (existing directories with their current owner and mode).
 *
 * Written here because no maintained library models BuildKit's COPY rules over an image's metadata; the
 * equivalence test (test/assemble-equivalence.test.ts) holds it to what the engine really produces.
 */
import { posix } from 'node:path';
import type { Owner } from './recipe.ts';

export type NodeType = 'dir' | 'file' | 'symlink' | 'other';

export interface FsNode {
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname?: string;
  /** A local file with the content (files copied in by the assembler). */
  source?: string;
  /** The content's sha256, when known (context files): lets a layer be found again without writing it. */
  sha256?: string;
}

const MAX_LINKS = 255;
const DIR_MODE = 0o755;

export class Tree {
  /** Path without leading "/" ("" is the root) -> node; what `below` has, changed by this tree. */
  private readonly nodes = new Map<string, FsNode>();
  /** Directory -> the paths set directly under it here. */
  private readonly kids = new Map<string, Set<string>>();
  private changed = new Set<string>();

  constructor(private readonly below?: (path: string) => FsNode | undefined) {
    if (!below) this.nodes.set('', { type: 'dir', mode: DIR_MODE, uid: 0, gid: 0, size: 0 });
  }

  get(path: string): FsNode | undefined {
    return this.nodes.get(path) ?? this.below?.(path);
  }

  /** The paths directly under `dir` set in this tree (not below it): what a source tree (the context, a scratch stage) holds. */
  children(dir: string): string[] {
    return [...(this.kids.get(dir) ?? [])].sort(byBytes);
  }

  set(path: string, node: FsNode): void {
    this.nodes.set(path, node);
    this.changed.add(path);
    if (path === '') return;
    const dir = parentOf(path);
    (this.kids.get(dir) ?? this.kids.set(dir, new Set()).get(dir)!).add(path);
  }

  /** What the step changed since the last call, with the directories on the way, in layer order. */
  takeChanges(): Array<[string, FsNode]> {
    const paths = new Set<string>();
    for (const p of this.changed) for (let q = p; q !== ''; q = parentOf(q)) paths.add(q);
    this.changed = new Set();
    return [...paths].sort(byLayerOrder).map((p) => [p, this.get(p)!]);
  }

  /** The path with every symlink resolved inside the root (fs.RootPath); the last component followed only when `followLast`. */
  resolve(path: string, followLast = true): string {
    let done: string[] = [];
    const todo = split(path);
    let links = 0;
    while (todo.length > 0) {
      const name = todo.shift()!;
      if (name === '..') { done.pop(); continue; }
      const candidate = [...done, name].join('/');
      const node = this.get(candidate);
      if (node?.type !== 'symlink' || (todo.length === 0 && !followLast)) { done.push(name); continue; }
      if (++links > MAX_LINKS) throw new Error(`too many symlinks resolving /${path}`);
      const target = node.linkname ?? '';
      if (target.startsWith('/')) done = [];
      todo.unshift(...split(target));
    }
    return done.join('/');
  }

  /** fsutil MkdirAll: each missing directory 0755, owned by `owner` or root. */
  mkdirAll(path: string, owner: Owner | undefined): string {
    const real = this.resolve(path);
    let at = '';
    for (const name of split(real)) {
      at = at ? `${at}/${name}` : name;
      const node = this.get(at);
      if (node?.type === 'dir') continue;
      if (node) throw new Error(`/${at} exists and is not a directory`);
      this.set(at, { type: 'dir', mode: DIR_MODE, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, size: 0 });
    }
    return real;
  }

  /** The parents of a directory about to be copied to `path`. */
  mkdirParent(path: string, owner: Owner | undefined): string {
    if (path !== '') this.mkdirAll(parentOf(path), owner);
    return path;
  }
}

export interface CopyOptions { chown?: Owner; chmod?: number }

/** One source of a COPY into `dest` (absolute; a trailing "/" means into that directory). */
export function copyInto(to: Tree, from: Tree, source: string, dest: string, o: CopyOptions, where: string): void {
  const srcPath = from.resolve(source === '.' ? '' : source);
  const src = from.get(srcPath);
  if (!src) throw new Error(`${where}: COPY source ${source} is not in the build context`);
  const intoDir = dest.endsWith('/');
  to.mkdirAll(intoDir ? dest : posix.dirname(dest), o.chown);
  let target = to.resolve(dest);
  const existing = to.get(target);
  if (src.type !== 'dir' && existing?.type === 'dir') target = target ? `${target}/${posix.basename(srcPath)}` : posix.basename(srcPath);
  else if (src.type === 'dir') target = to.mkdirParent(target, o.chown);
  copyNode(to, from, srcPath, target, o, true);
}

/**
 * fsutil's copy: every entry under the source gets the source's metadata (or --chown, --chmod), existing
 * nested directories included; the destination directory itself keeps its metadata, and is made like a
 * parent (0755, --chown or root) when missing. --chmod sets the permission bits and keeps the source's
 * setuid, setgid and sticky bits (BuildKit 0.8 to 0.12).
 */
function copyNode(to: Tree, from: Tree, srcPath: string, target: string, o: CopyOptions, top: boolean): void {
  const src = from.get(srcPath)!;
  const meta = { uid: o.chown?.uid ?? src.uid, gid: o.chown?.gid ?? src.gid, mode: o.chmod === undefined ? src.mode : (src.mode & ~0o777) | (o.chmod & 0o777) };
  if (src.type !== 'dir') { to.set(target, { ...src, ...meta }); return; }
  const existing = to.get(target);
  if (existing && existing.type !== 'dir') throw new Error(`/${target} exists and is not a directory`);
  if (!top) to.set(target, { ...src, ...meta });
  else if (!existing) to.mkdirAll(target, o.chown);
  for (const child of from.children(srcPath)) copyNode(to, from, child, target ? `${target}/${posix.basename(child)}` : posix.basename(child), o, false);
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s !== '' && s !== '.');
}

export function parentOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at < 0 ? '' : path.slice(0, at);
}

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** A directory before what it holds, siblings by name (the order of a Go filepath.Walk). */
function byLayerOrder(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return byBytes(x[i]!, y[i]!);
  }
  return x.length - y.length;
}
