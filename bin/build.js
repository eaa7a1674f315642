/**
 * `npm run build`: compiles pipeline/ and dev/ into dist/, copies their other files (CRDs) and the
 * profiles and schemas they read (so dist/ resolves them the way the sources do), and records in
 * dist/SOURCES the fingerprint the sources had before compiling, so an edit made meanwhile leaves the
 * build stale instead of stamping it fresh.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILT, DIST, ROOT, sourcesFingerprint } from './sources.js';

const fingerprint = sourcesFingerprint();
rmSync(DIST, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
for (const dir of BUILT) cpSync(join(ROOT, dir), join(DIST, dir), { recursive: true, filter: (src) => statSync(src).isDirectory() || !src.endsWith('.ts') });
writeFileSync(join(DIST, 'SOURCES'), `${fingerprint}\n`);
