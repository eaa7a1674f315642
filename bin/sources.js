/**
 * The fingerprint of what the build is made of: pipeline/, dev/, and the profiles and schemas it reads.
 * `npm run build` (bin/build.js) records it in dist/SOURCES, and bin/eksd.js runs the compiled build only
 * while the sources still have that fingerprint.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const DIST = join(ROOT, 'dist');

/** The folders compiled or copied into dist/. */
export const BUILT = ['pipeline', 'dev', 'config', 'schema'];

/** sha256 over every file under BUILT: its path and its content, in path order. */
export function sourcesFingerprint(root = ROOT) {
  const files = BUILT.flatMap((d) => readdirSync(join(root, d), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name))).sort();
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${relative(root, file)}\0`).update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

/** dist/'s entry point when dist/ was built from the sources as they are now, else undefined. */
export function freshBuild(root = ROOT) {
  let stamp;
  try { stamp = readFileSync(join(root, 'dist', 'SOURCES'), 'utf8').trim(); } catch { return undefined; }
  const entry = join(root, 'dist', 'dev', 'cli.js');
  return stamp === sourcesFingerprint(root) && existsSync(entry) ? entry : undefined;
}
