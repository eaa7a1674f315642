/**
 * A release with nothing changed since the last one builds nothing, uploads no blob and writes nothing
 * to the registry (counted by a proxy in front of it), releases nothing, and takes a small fraction of
 * the first run's time; released on purpose (--release-unchanged), it only writes the new versioned tags. The time compared is the
 * run's own (`ms` of `eksd release --json`: catalog to announce); starting the process and loading its
 * modules costs the same for both runs and is logged with the wall-clock times.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { LOCAL_REGISTRY, makeProject } from './helpers/project.ts';
import { startFaultProxy } from './helpers/fault-proxy.ts';
import { imagesIn, runWithEvents } from './helpers/crash.ts';

const UPLOADS = ['blob-upload-start', 'blob-upload-patch', 'blob-upload-put', 'blob-mount'];

test('a re-run with nothing changed builds nothing, uploads no blob and is fast', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  const proxy = await startFaultProxy({ target: LOCAL_REGISTRY, probability: 0 });
  t.teardown(async () => { await proxy.stop(); await p.cleanup(); });
  await p.seed();
  // Push through the counting proxy (the upstream stand-in stays where the pin says).
  const config = parse(readFileSync(p.configFile, 'utf8')) as Record<string, string>;
  for (const key of ['imageRepo', 'baseImageRepo']) config[key] = config[key]!.replace(LOCAL_REGISTRY, proxy.host);
  writeFileSync(p.configFile, stringify(config));

  const first = await runWithEvents(p, ['release', '--concurrency', '2', '--json']);
  t.is(first.code, 0, first.stderr);
  const firstUploads = UPLOADS.reduce((n, k) => n + (proxy.received[k] ?? 0), 0);
  t.is(imagesIn(first.events, 'building').length, 10);
  t.true(firstUploads > 0, 'the first run uploads through the proxy');

  proxy.resetCounts();
  const second = await runWithEvents(p, ['release', '--concurrency', '2', '--json']);
  t.is(second.code, 0, second.stderr);
  t.deepEqual(imagesIn(second.events, 'building'), [], 'nothing was built');
  t.is(imagesIn(second.events, 'reused').length, 10, 'every platform image was reused');
  for (const kind of UPLOADS) t.is(proxy.received[kind] ?? 0, 0, `no ${kind} request`);
  t.is(proxy.received['manifest-put'] ?? 0, 0, 'nothing is written: no index, no tag');
  t.is((JSON.parse(second.stdout) as { state: string }).state, 'unchanged', 'nothing to release');

  proxy.resetCounts();
  const forced = await runWithEvents(p, ['release', '--concurrency', '2', '--json', '--release-unchanged']);
  t.is(forced.code, 0, forced.stderr);
  t.deepEqual(imagesIn(forced.events, 'building'), []);
  for (const kind of UPLOADS) t.is(proxy.received[kind] ?? 0, 0, `no ${kind} request`);
  t.is(proxy.received['manifest-put'], 5, 'released on purpose, only the new versioned tags are written: no index is pushed again, no floating tag moves');
  const [run1, run2] = [first, second].map((r) => (JSON.parse(r.stdout) as { ms: number }).ms) as [number, number];
  const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
  t.log(`first run ${s(run1)} (wall ${s(first.ms)}, ${firstUploads} upload requests); no-op re-run ${s(run2)} = ${pct(run2, run1)} (wall ${s(second.ms)} = ${pct(second.ms, first.ms)})`);
  t.log(`requests of the no-op re-run: ${JSON.stringify(proxy.received)}`);
  // Time is reported, not asserted (a loaded machine skews it); `npm run bench:build` measures the ratio.
});
