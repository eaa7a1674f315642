/** A build context as a value: every file (and directory of its own) with its mode, owner and content hash. */
export interface ContextFile {
  /** Path inside the build context. */
  name: string;
  source: string;
  mode: number;
  sha256: string;
  /** recipe: from the image's folder; artifact: staged from a verified artifact. */
  origin: 'recipe' | 'artifact';
  /** A directory of its own (empty, or with a mode or owner of its own); absent: a file. Directories not listed are made 0755, root. */
  type?: 'dir';
  /** Owner in the context tar; absent: root. */
  uid?: number;
  gid?: number;
}
