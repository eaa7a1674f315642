/**
 * An engine per platform: a second dockerd on its own socket and data root (another process, as another
 * machine would be) builds the arm64 images, the default engine the amd64 ones; `eksd plan` says which
 * engine builds what, and the release verifies. Also the configuration of engines, TLS included.
 */
import test from 'ava';
import Docker from 'dockerode';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineAddress } from '../pipeline/builders/buildkit/engine.ts';
import { loadConfig } from '../pipeline/config/config.ts';
import type { PlanRow } from '../pipeline/report/plan.ts';
import { startSecondEngine } from './helpers/second-engine.ts';
import { makeProject } from './helpers/project.ts';

const DEFAULT_SOCKET = '/run/eksd/docker.sock';


/** The eksd build tags an engine holds, as "<image>:<arch>". */
async function builtOn(socketPath: string): Promise<string[]> {
  const images = await new Docker({ socketPath }).listImages();
  return images.flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith('eksd-build/'))
    .map((t) => t.replace(/^eksd-build\//, '').replace(/-[0-9a-f]{12}$/, '')).sort();
}

test('a second engine builds the arm64 images, the default one the amd64 ones; plan shows which; the release verifies', async (t) => {
  const layout = await startSecondEngine(t, 'arm-engine');
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  const env = { EKSD_ENGINE_ARM64: `unix://${layout.dockerSocket}` };

  const plan = await p.eksd(['plan', '--json'], { env });
  t.is(plan.code, 0, plan.stderr);
  const rows = (JSON.parse(plan.stdout) as { decisions: PlanRow[] }).decisions.filter((r) => r.via === 'buildkit');
  t.true(rows.length >= 2, 'the bases go through BuildKit');
  for (const r of rows) t.is(r.engine, r.platform === 'linux/arm64' ? env.EKSD_ENGINE_ARM64 : DEFAULT_SOCKET, `${r.image} ${r.platform}`);
  t.regex((await p.eksd(['plan'], { env })).stdout, /ENGINE/);

  const before = new Set(await builtOn(DEFAULT_SOCKET));
  const release = await p.eksd(['release'], { env });
  t.is(release.code, 0, release.stderr.slice(-3000));
  const second = await builtOn(layout.dockerSocket);
  t.deepEqual(second.filter((tag) => !tag.includes(':arm64')), [], 'the second engine built only arm64');
  t.deepEqual(second.map((tag) => tag.split(':')[0]).sort(), rows.filter((r) => r.platform === 'linux/arm64').map((r) => r.image).sort());
  const added = (await builtOn(DEFAULT_SOCKET)).filter((tag) => !before.has(tag));
  t.deepEqual(added.filter((tag) => tag.includes(':arm64')), [], 'the default engine built no arm64 image');
});

test('engines are configured per platform, by file or EKSD_ENGINE_*, with TLS client certificates for tcp://', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eksd-engines-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'eksd.yaml');
  writeFileSync(file, 'engines:\n  linux/arm64: { host: "tcp://127.0.0.1:2376", certPath: certs }\n');
  const config = loadConfig({ configFile: file, env: {}, root: dir });
  t.deepEqual(config.engines, { 'linux/arm64': { host: 'tcp://127.0.0.1:2376', certPath: join(dir, 'certs') } });
  t.deepEqual(loadConfig({ env: { EKSD_ENGINE_AMD64: '/run/amd.sock' } }).engines, { 'linux/amd64': { host: '/run/amd.sock' } });
  writeFileSync(file, 'engines:\n  linux/s390x: /run/x.sock\n');
  t.throws(() => loadConfig({ configFile: file, env: {} }), { message: /engines\.linux\/s390x: unknown key/ });

  t.throws(() => engineAddress('tcp://127.0.0.1:2376', join(dir, 'certs')), { message: /cannot read the engine's TLS ca\.pem in .*certs/ });
  mkdirSync(join(dir, 'certs'));
  for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, 'certs', f), `${f}\n`);
  const tls = engineAddress('tcp://127.0.0.1:2376', join(dir, 'certs'));
  t.like(tls, { local: false, options: { host: '127.0.0.1', port: 2376, protocol: 'https' } });
  t.is(String(tls.options.ca), 'ca.pem\n');
  t.like(engineAddress('tcp://127.0.0.1:2375'), { options: { protocol: 'http' } });
});
