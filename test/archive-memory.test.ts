/**
 * Archives are hashed and copied as streams: a release whose catalog carries a 1 GiB archive (a sparse
 * file served by the project's artifact source) fetches, checks, publishes and verifies it with the
 * eksd process's peak RSS far below the archive's size. The whole release runs, as a child process
 * under GNU time (`/usr/bin/time -f %M`), against the real registry and engine.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, ftruncateSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { hashFile } from '../pipeline/util/checksums.ts';
import { EKSD_BIN, makeProject } from './helpers/project.ts';

const GiB = 1024 ** 3;
const LIMIT_MB = 300;
const NAME = 'etcd-bulk-v3.5.21.bin';

/** Runs eksd under GNU time; returns its exit code, output and peak RSS in MB. */
function eksdUnderTime(root: string, configFile: string, args: string[]): Promise<{ code: number | null; stderr: string; maxRssMb: number }> {
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/time', ['-f', 'eksd-max-rss-kb=%M', process.execPath, EKSD_BIN, ...args], {
      cwd: root, env: { ...process.env, EKSD_PROFILE: 'local', EKSD_CONFIG: configFile, CI: 'true' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => {
      const kb = Number(/eksd-max-rss-kb=(\d+)/.exec(stderr)?.[1] ?? NaN);
      resolve({ code, stderr, maxRssMb: kb / 1024 });
    });
  });
}

test('a release with a 1 GiB archive fetches, publishes and verifies it with peak RSS under 300 MB', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  const source = join(p.root, 'out', 'local', 'artifacts', 'etcd', 'v3.5.21', NAME);
  mkdirSync(dirname(source), { recursive: true });
  const fd = openSync(source, 'w');
  ftruncateSync(fd, GiB);
  closeSync(fd);
  const sums = await hashFile(source);
  const file = join(p.root, 'images', 'etcd', 'component.yaml');
  const etcd = parse(readFileSync(file, 'utf8')) as { versions: Array<{ channels: string[]; artifacts: unknown[] }> };
  etcd.versions.find((v) => v.channels.includes('1-33'))!.artifacts.push({
    name: NAME, platform: 'linux/amd64', description: 'a 1 GiB archive', sha256: sums.sha256, sha512: sums.sha512, release: true,
  });
  writeFileSync(file, stringify(etcd));

  const started = Date.now();
  const r = await eksdUnderTime(p.root, p.configFile, ['release', '--events', 'plain', '--concurrency', '2']);
  const secs = (Date.now() - started) / 1000;
  t.is(r.code, 0, r.stderr.slice(-3000));
  const published = join(p.root, 'out', 'site', 'kubernetes-1-33', 'releases', '1', 'artifacts', 'etcd', 'v3.5.21', NAME);
  t.is(statSync(published).size, GiB);
  t.is(readFileSync(`${published}.sha512`, 'utf8'), `${sums.sha512}  ${NAME}\n`);
  const manifest = readFileSync(join(p.root, 'out', 'site', 'kubernetes-1-33', 'kubernetes-1-33-eks-1.yaml'), 'utf8');
  t.true(manifest.includes(sums.sha256), 'the manifest carries the archive\'s sha256');
  t.regex(r.stderr, /verify/);
  t.true(Number.isFinite(r.maxRssMb), r.stderr.slice(-500));
  t.true(r.maxRssMb < LIMIT_MB, `peak RSS ${r.maxRssMb.toFixed(0)} MB`);
  t.log(`release with a 1 GiB archive in ${secs.toFixed(1)} s, peak RSS ${r.maxRssMb.toFixed(0)} MB`);
});
