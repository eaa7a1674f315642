/**
 * A throwaway project for pipeline tests: its own catalog (the full one or a small slice of it), its own
 * registry namespace on the local registry, its own stand-in upstream image, site, outbox and state.
 * Tests share the local dockerd and registry (eksd env up) but nothing else.
 *
 *   const p = await makeProject({ catalog: 'mini' });
 *   await p.seed();                       // stand-in upstream + artifacts, pin written
 *   const r = await p.eksd(['release']);   // the real CLI as a child process, cwd = p.root
 *   await p.cleanup();
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, readdirSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { forChannel, loadConfig, type ChannelConfig } from '../../pipeline/config/config.ts';
import { loadCatalog } from '../../pipeline/catalog/load.ts';
import { seedLocal, type SeedResult } from '../../dev/env/seed.ts';
import { envUp } from '../../dev/env/local.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EKSD_BIN = join(REPO_ROOT, 'bin', 'eksd.js');
export const LOCAL_REGISTRY = '127.0.0.1:5000';

/** mini: bases eks-distro-base + eks-distro-minimal-base; components go-runner, etcd, cni-plugins, kubernetes (kube-apiserver only). */
export type CatalogChoice = 'mini' | 'full';

export interface TestProject {
  root: string;
  /** Registry namespace of this project, e.g. t-1a2b3c. */
  ns: string;
  configFile: string;
  config(): ChannelConfig;
  seed(options?: { update?: boolean }): Promise<SeedResult>;
  /** Runs bin/eksd.js with this project's configuration; never throws on a non-zero exit. */
  eksd(args: string[], options?: { env?: Record<string, string>; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }>;
  cleanup(): Promise<void>;
}

export async function makeProject(options: { catalog?: CatalogChoice; registry?: string; /** Leave the channel unset: releases cover every active channel. */ allChannels?: boolean;
  /** Keep only these channels in the catalog (implies allChannels). */ channels?: string[] } = {}): Promise<TestProject> {
  await envUp();
  const root = await mkdtemp(join(tmpdir(), 'eksd-project-'));
  const ns = `t-${randomBytes(4).toString('hex')}`;
  const registry = options.registry ?? LOCAL_REGISTRY;
  copyCatalog(root, options.catalog ?? 'mini');
  if (options.channels) keepChannels(root, options.channels);
  mkdirSync(join(root, 'out', 'local'), { recursive: true });
  writeFileSync(join(root, 'out', 'local', 'base-pin.yaml'), stringify({ upstream: { reference: `${registry}/${ns}/amazonlinux:2`, digest: null } }));
  const configFile = join(root, 'eksd.yaml');
  writeFileSync(configFile, stringify({
    ...(options.allChannels || options.channels ? {} : { channel: '1-33' }),
    imageRepo: `${registry}/${ns}/eks-distro`,
    baseImageRepo: `${registry}/${ns}/eks-distro-build-tooling`,
    basePin: join(root, 'out', 'local', 'base-pin.yaml'),
    artifacts: { baseUrl: `file://${join(root, 'out', 'local', 'artifacts')}`, cacheDir: join(root, 'out', 'cache', 'artifacts') },
    site: { dir: join(root, 'out', 'site'), baseUrl: 'https://distro.eks.amazonaws.com' },
    announce: { kind: 'outbox', dir: join(root, 'out', 'announcements') },
    stateDir: join(root, 'out', 'state'),
  }));
  // In-process helpers work on one channel: 1-33 unless the project sets another.
  const config = () => { const c = loadConfig({ profile: 'local', configFile, root, env: {} }); return forChannel(c, c.channel ?? '1-33'); };
  return {
    root, ns, configFile, config,
    seed: async (o = {}) => { const c = config(); return seedLocal(c, loadCatalog(c), o); },
    eksd: (args, o = {}) => runEksd(root, configFile, args, o),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** How long one eksd process may run in a test: under ava's 10 minute limit, far above a normal run. */
export const EKSD_TIMEOUT_MS = 540_000;

function runEksd(root: string, configFile: string, args: string[], o: { env?: Record<string, string>; timeoutMs?: number }) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [EKSD_BIN, ...args], {
      cwd: root, env: { ...process.env, EKSD_PROFILE: 'local', EKSD_CONFIG: configFile, CI: 'true', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timeoutMs = o.timeoutMs ?? EKSD_TIMEOUT_MS;
    const timer = setTimeout(() => { stderr += `\n[test] eksd ${args.join(' ')} killed after ${timeoutMs / 1000} s\n`; child.kill('SIGKILL'); }, timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

function copyCatalog(root: string, choice: CatalogChoice): void {
  cpSync(join(REPO_ROOT, 'base'), join(root, 'base'), { recursive: true });
  if (choice === 'full') {
    cpSync(join(REPO_ROOT, 'images'), join(root, 'images'), { recursive: true });
    return;
  }
  const bases = parse(readFileSync(join(root, 'base', 'bases.yaml'), 'utf8')) as { bases: Array<{ name: string }> };
  bases.bases = bases.bases.filter((b) => ['eks-distro-base', 'eks-distro-minimal-base'].includes(b.name));
  writeFileSync(join(root, 'base', 'bases.yaml'), stringify(bases));
  cpSync(join(REPO_ROOT, 'images', 'channels.yaml'), join(root, 'images', 'channels.yaml'));
  for (const c of ['go-runner', 'etcd', 'cni-plugins', 'kubernetes']) {
    cpSync(join(REPO_ROOT, 'images', c), join(root, 'images', c), { recursive: true });
  }
  const file = join(root, 'images', 'kubernetes', 'component.yaml');
  const k8s = parse(readFileSync(file, 'utf8')) as { images: Array<{ name: string }>; versions: Array<{ extraTags?: unknown }> };
  k8s.images = k8s.images.filter((i) => i.name === 'kube-apiserver');
  for (const v of k8s.versions) delete v.extraTags; // pause's tags; pause is not in the slice
  writeFileSync(file, stringify(k8s));
}

/** The catalog with only `keep` in images/channels.yaml and in every component's versions. */
export function keepChannels(root: string, keep: string[]): void {
  const channelsFile = join(root, 'images', 'channels.yaml');
  const doc = parse(readFileSync(channelsFile, 'utf8')) as { channels: Array<{ name: string }> };
  doc.channels = doc.channels.filter((c) => keep.includes(c.name));
  writeFileSync(channelsFile, stringify(doc));
  for (const dir of readdirSync(join(root, 'images'), { withFileTypes: true }).filter((d) => d.isDirectory())) {
    const file = join(root, 'images', dir.name, 'component.yaml');
    const c = parse(readFileSync(file, 'utf8')) as { channels?: string[]; versions: Array<{ channels: string[] }> };
    if (c.channels) c.channels = c.channels.filter((ch) => keep.includes(ch));
    for (const v of c.versions) v.channels = v.channels.filter((ch) => keep.includes(ch));
    c.versions = c.versions.filter((v) => v.channels.length > 0);
    writeFileSync(file, stringify(c));
  }
}

/** A mini project that has already made its first release (for tests that start from a published state). */
export async function releasedProject(): Promise<TestProject> {
  const p = await makeProject({ catalog: 'mini' });
  await p.seed();
  const r = await p.eksd(['release', '--concurrency', '2']);
  if (r.code !== 0) throw new Error(`first release failed: ${r.stderr}`);
  return p;
}

/** The repositories of this project's namespace in the local registry (GET /v2/_catalog, following Link pages). */
export async function repositoriesOf(p: TestProject): Promise<string[]> {
  const out: string[] = [];
  for (let url: string | undefined = `http://${LOCAL_REGISTRY}/v2/_catalog?n=1000`; url;) {
    const res: Response = await fetch(url);
    out.push(...((await res.json()) as { repositories: string[] }).repositories);
    const next: string | undefined = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    url = next ? new URL(next, `http://${LOCAL_REGISTRY}`).toString() : undefined;
  }
  return out.filter((r) => r.startsWith(`${p.ns}/`)).sort();
}
