/**
 * Benchmark: the release site for seven channels (`npm run bench:site`), generated from stored
 * manifests (a site store filled with generated Release manifests and channel files, as runs leave
 * it): every release page, the index pages, the feeds and releases.json, written from nothing, again
 * with nothing changed in the same process (as the next channel of a run writes them: each manifest
 * is parsed once per process), and again in a new process (`eksd site`). Target: under 2 s for seven
 * channels.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirStore } from '../pipeline/store/dir.ts';
import { regenerateSite } from '../pipeline/site/pages/write.ts';
import { fakePlatforms, storeReleases } from '../test/helpers/stored-site.ts';

const CHANNELS = ['1-30', '1-31', '1-32', '1-33', '1-34', '1-35', '1-36'];
const RELEASES = Number(process.env.BENCH_SITE_RELEASES ?? 20);
const TARGET_MS = 2000;

/** Writes the whole site once into the store at `dir` and prints how long it took. */
async function regenerate(dir: string, label: string): Promise<void> {
  const started = performance.now();
  const pages = await regenerateSite(new DirStore(dir), fakePlatforms);
  const ms = performance.now() - started;
  process.stdout.write(`site, ${CHANNELS.length} channels x ${RELEASES} releases (18 images, 12 archives each), ${label}: ${(ms / 1000).toFixed(2)}s, `
    + `${pages.written.length} written, ${pages.unchanged.length} unchanged (target < ${TARGET_MS / 1000}s) ${ms < TARGET_MS ? 'ok' : 'SLOW'}\n`);
  if (ms >= TARGET_MS) process.exitCode = 1;
}

if (process.argv[2] === '--again-in') {
  await regenerate(process.argv[3]!, 'again, nothing changed, in a new process');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'eksd-bench-site-'));
  try {
    await storeReleases(new DirStore(dir), { channels: CHANNELS, releases: RELEASES, retired: { '1-30': '2026-06-01' } });
    await regenerate(dir, 'from nothing');
    await regenerate(dir, 'again, nothing changed, in the same process');
    const again = spawnSync(process.execPath, ['--import=tsx', new URL(import.meta.url).pathname, '--again-in', dir], { stdio: 'inherit' });
    if (again.status !== 0) process.exitCode = again.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
