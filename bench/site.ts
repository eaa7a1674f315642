/**
 * Benchmark: the release site for seven channels (`npm run bench:site`), generated from stored
 * manifests (a site store filled with generated Release manifests and channel files, as runs leave
 * it): every release page, the index pages, the feeds and releases.json, written from nothing and then
 * again with nothing changed. Target: under 2 s for seven channels.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirStore } from '../pipeline/store/dir.ts';
import { regenerateSite } from '../pipeline/site/pages/write.ts';
import { fakePlatforms, storeReleases } from '../test/helpers/stored-site.ts';

const CHANNELS = ['1-30', '1-31', '1-32', '1-33', '1-34', '1-35', '1-36'];
const RELEASES = Number(process.env.BENCH_SITE_RELEASES ?? 20);
const TARGET_MS = 2000;

const dir = mkdtempSync(join(tmpdir(), 'eksd-bench-site-'));
try {
  const site = new DirStore(dir);
  await storeReleases(site, { channels: CHANNELS, releases: RELEASES, retired: { '1-30': '2026-06-01' } });
  for (const label of ['from nothing', 'again, nothing changed']) {
    const started = performance.now();
    const pages = await regenerateSite(site, fakePlatforms);
    const ms = performance.now() - started;
    process.stdout.write(`site, ${CHANNELS.length} channels x ${RELEASES} releases (18 images, 12 archives each), ${label}: ${(ms / 1000).toFixed(2)}s, `
      + `${pages.written.length} written, ${pages.unchanged.length} unchanged (target < ${TARGET_MS / 1000}s) ${ms < TARGET_MS ? 'ok' : 'SLOW'}\n`);
    if (ms >= TARGET_MS) process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
