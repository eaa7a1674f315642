/**
 * ECR Public limits in the publish path: the pacer (at most N grants in any window, in order), and
 * pushPlatformImage under the ECR Public limits against a real registry behind a counting proxy: new
 * layers are uploaded at most 10 per second, inherited layers are copied rather than mounted, and a
 * blob already there costs neither an upload nor a pacer turn.
 */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Image as ExportedImage, Layer as LayerBlob } from '../pipeline/image/image.ts';
import { Pacer, publishLimits, transferPolicy, UNLIMITED, type PacerClock } from '../pipeline/publish/limits.ts';
import { copy, emptyCopyStats } from '../pipeline/registry/copy.ts';
import { MEDIA } from '../pipeline/image/media-types.ts';
import { pushPlatformImage } from '../pipeline/publish/platform-image.ts';
import { digestOf, RegistryClient } from '../pipeline/registry/index.ts';
import { pacingReport, startFaultProxy } from './helpers/fault-proxy.ts';
import { pseudoRandom, startRegistry, tarGz } from './helpers/registry.ts';

/**
 * A virtual clock: sleeps are timers on a virtual timeline, and time jumps to the next timer only once
 * everything else has run (setImmediate comes after all pending promise work).
 */
function fakeClock(): PacerClock {
  let now = 0;
  const timers: Array<{ at: number; seq: number; resolve: () => void }> = [];
  let seq = 0;
  let scheduled = false;
  const advance = (): void => {
    scheduled = false;
    timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const next = timers.shift();
    if (!next) return;
    now = Math.max(now, next.at);
    next.resolve();
    if (timers.length > 0) schedule();
  };
  const schedule = (): void => { if (!scheduled) { scheduled = true; setImmediate(advance); } };
  return {
    now: () => now,
    sleep: (ms) => new Promise<void>((resolve) => { timers.push({ at: now + ms, seq: seq++, resolve }); schedule(); }),
  };
}

test('a burst of the limit passes at once, then one window per limit', async (t) => {
  const clock = fakeClock();
  const pacer = new Pacer(10, 1000, clock);
  const granted: number[] = [];
  await Promise.all(Array.from({ length: 25 }, () => pacer.run(async () => { granted.push(clock.now()); })));
  t.deepEqual(granted, [...Array(10).fill(0), ...Array(10).fill(1000), ...Array(5).fill(2000)]);
  t.is(pacer.heldMs, 10 * 1000 + 5 * 2000);
});

test('callers are served in the order they asked', async (t) => {
  const pacer = new Pacer(2, 1000, fakeClock());
  const order: number[] = [];
  await Promise.all(Array.from({ length: 7 }, (_, i) => pacer.run(async () => { order.push(i); })));
  t.deepEqual(order, [0, 1, 2, 3, 4, 5, 6]);
});

test('uploads in flight count against the limit until a window after they complete', async (t) => {
  const clock = fakeClock();
  const pacer = new Pacer(2, 1000, clock);
  const releaseA = await pacer.acquire();
  const releaseB = await pacer.acquire();
  let grantedAt: number | undefined;
  const c = pacer.acquire().then((release) => { grantedAt = clock.now(); return release; });
  await clock.sleep(500);
  releaseA(); // completes at 500: c may start once that completion leaves the window, at 1500
  (await c)();
  t.is(grantedAt, 1500);
  releaseB();
  releaseB(); // a second call is ignored
  t.is(clock.now(), 1500);
});

test('never more than the limit of completions in any window, whatever the arrival and upload times', async (t) => {
  const clock = fakeClock();
  const pacer = new Pacer(10, 1000, clock);
  const completed: number[] = [];
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const running: Array<Promise<void>> = [];
  for (let i = 0; i < 200; i++) {
    if (random() < 0.3) await clock.sleep(Math.floor(random() * 400));
    const release = await pacer.acquire();
    const duration = Math.floor(random() * 1500);
    // Completes `duration` ms after it started (the fake clock only moves forward).
    const started = clock.now();
    running.push(Promise.resolve().then(async () => {
      while (clock.now() < started + duration) await clock.sleep(started + duration - clock.now());
      completed.push(clock.now());
      release();
    }));
  }
  await Promise.all(running);
  completed.sort((a, b) => a - b);
  for (let i = 0; i + 10 < completed.length; i++) t.true(completed[i + 10]! - completed[i]! >= 1000, `completions ${i} and ${i + 10}`);
  // Idle time is not owed: after a long pause a full burst passes again.
  await clock.sleep(5000);
  const before = clock.now();
  for (let i = 0; i < 10; i++) (await pacer.acquire())();
  t.is(clock.now(), before);
});

test('with the real clock: 25 uploads at 10 per second take two windows', async (t) => {
  const pacer = new Pacer(10, 1000);
  const started = performance.now();
  const granted: number[] = [];
  await Promise.all(Array.from({ length: 25 }, () => pacer.run(async () => { granted.push(performance.now() - started); })));
  t.true(granted[24]! >= 2000 && granted[24]! < 5000, String(granted[24]));
  // (Grant times are taken when the task runs, a moment after the grant: a few ms of slack.)
  for (let i = 0; i + 10 < granted.length; i++) t.true(granted[i + 10]! - granted[i]! >= 1000 - 5);
});

test('bad limits are refused', (t) => {
  t.throws(() => new Pacer(0), { instanceOf: RangeError });
  t.throws(() => new Pacer(1.5), { instanceOf: RangeError });
  t.throws(() => new Pacer(3, 0), { instanceOf: RangeError });
});

test('the limits follow the configuration', (t) => {
  t.is(publishLimits({ aws: { region: 'us-east-1', ecrPublic: false } }), UNLIMITED);
  const ecr = publishLimits({ aws: { region: 'us-east-1', ecrPublic: true } });
  t.false(ecr.crossRepoMount);
  t.is(ecr.uploads?.limit, 10);
  t.is(ecr.uploads?.windowMs, 1000);
});

/** A platform image with `inherited` layers from the parent (no file) and `fresh` new layers (files). */
async function image(dir: string, seed: string, parentLayers: LayerBlob[], fresh: number): Promise<ExportedImage> {
  const layers: LayerBlob[] = [...parentLayers];
  for (let i = 0; i < fresh; i++) {
    const { gz } = tarGz([{ name: `layer-${i}.bin`, content: pseudoRandom(`${seed}/${i}`, 2048) }]);
    const path = join(dir, `${seed}-${i}.tar.gz`);
    await writeFile(path, gz);
    layers.push({ mediaType: MEDIA.ociLayerGzip, digest: digestOf(gz), size: gz.length, path });
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed, rootfs: { type: 'layers', diff_ids: [] } }));
  return { config, configDigest: digestOf(config), layers, inherited: parentLayers.length };
}

test.serial('pushPlatformImage under ECR Public limits: uploads paced, inherited layers copied, never mounted', async (t) => {
  const reg = await startRegistry();
  const proxy = await startFaultProxy({ target: reg.host, probability: 0 });
  const dir = await mkdtemp(join(tmpdir(), 'eksd-pacer-'));
  try {
    const client = new RegistryClient({ registry: proxy.host });
    const parent = await image(dir, 'parent', [], 4);
    await pushPlatformImage(client, 'ns/parent', parent, {}, undefined);
    const inheritedLayers = parent.layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size }));

    // ECR Public: 4 inherited layers copied + 20 new layers + 1 config = 25 uploads, >= 2 s at 10/s.
    proxy.resetCounts();
    const child = await image(dir, 'child', inheritedLayers, 20);
    const limits = publishLimits({ aws: { region: 'us-east-1', ecrPublic: true } });
    const started = performance.now();
    const { stats } = await pushPlatformImage(client, 'ns/child', child, {}, { client, repository: 'ns/parent' }, limits);
    const elapsed = performance.now() - started;
    t.is(proxy.received['blob-mount'] ?? 0, 0, 'no mount attempted');
    t.is(stats.uploaded, 25);
    t.is(stats.mounted, 0);
    t.is(proxy.forwarded['blob-upload-put'], 25);
    t.true(elapsed >= 2000, `took ${Math.round(elapsed)} ms`);
    t.deepEqual(pacingReport(proxy.forwardedAt['blob-upload-put'] ?? [], 10).violations, []);

    // Pushing the same image again: everything is there, no upload, no pacer turn, no wait.
    proxy.resetCounts();
    const held = limits.uploads!.heldMs;
    const again = await pushPlatformImage(client, 'ns/child', child, {}, { client, repository: 'ns/parent' }, limits);
    t.is(again.stats.uploaded, 0);
    t.is(again.stats.existing, 25);
    t.is(proxy.forwarded['blob-upload-put'] ?? 0, 0);
    t.is(limits.uploads!.heldMs, held);

    // Any other registry: inherited layers are mounted, nothing is paced.
    proxy.resetCounts();
    const other = await image(dir, 'other', inheritedLayers, 20);
    const t0 = performance.now();
    const free = await pushPlatformImage(client, 'ns/other', other, {}, { client, repository: 'ns/parent' }, UNLIMITED);
    t.is(free.stats.mounted, 4);
    t.is(free.stats.uploaded, 21);
    t.true((proxy.received['blob-mount'] ?? 0) >= 4);
    t.log(`paced: ${Math.round(elapsed)} ms for 25 uploads; unpaced: ${Math.round(performance.now() - t0)} ms for 21 uploads + 4 mounts`);
  } finally {
    await proxy.stop();
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the limits are the target registry\'s: a republish to another host than ECR Public is unpaced', (t) => {
  const aws = { region: 'us-east-1', ecrPublic: true, ecrPublicRegistry: '127.0.0.1:5999' };
  t.false(publishLimits({ aws }, '127.0.0.1:5999').crossRepoMount);
  t.is(publishLimits({ aws }, 'mirror.internal:5000'), UNLIMITED);
});

test.serial('a copy (what republish does) under ECR Public limits: uploads paced, never mounted', async (t) => {
  const reg = await startRegistry();
  const proxy = await startFaultProxy({ target: reg.host, probability: 0 });
  const dir = await mkdtemp(join(tmpdir(), 'eksd-pacer-copy-'));
  try {
    const client = new RegistryClient({ registry: proxy.host });
    const source = await image(dir, 'source', [], 24);
    const { descriptor } = await pushPlatformImage(client, 'ns/source', source, {}, undefined);
    proxy.resetCounts();
    const started = performance.now();
    const stats = emptyCopyStats();
    const digest = await copy({ from: { client, repo: 'ns/source', ref: descriptor.digest }, to: { client, repo: 'ns/target' }, stats,
      policy: transferPolicy(publishLimits({ aws: { region: 'us-east-1', ecrPublic: true, ecrPublicRegistry: proxy.host } }, proxy.host)) });
    const elapsed = performance.now() - started;
    t.is(digest, descriptor.digest);
    t.is(proxy.received['blob-mount'] ?? 0, 0, 'no mount attempted, though both repositories are on one registry');
    t.is(stats.blobsUploaded, 25);
    t.true(elapsed >= 2000, `took ${Math.round(elapsed)} ms`);
    t.deepEqual(pacingReport(proxy.forwardedAt['blob-upload-put'] ?? [], 10).violations, []);
  } finally {
    await proxy.stop();
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
