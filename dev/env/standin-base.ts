/**
 * A local stand-in for the upstream Amazon Linux 2 image, for the local profile where public.ecr.aws is
 * out of reach: a multi-arch OCI index whose root filesystems hold Debian's static busybox for amd64 and
 * arm64 (so RUN steps work, under qemu for the foreign architecture) and AL2-like release files. The
 * content is deterministic per revision; a new revision simulates an AL2 security update.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { EksdError } from '../../pipeline/errors.ts';
import { MEDIA } from '../../pipeline/image/media-types.ts';
import type { RegistryClient } from '../../pipeline/registry/client.ts';
import { withPidLock } from '../../pipeline/util/pid-lock.ts';
import { APT_LOCK } from './local.ts';
import { tarBuffer, type TarEntry } from '../../pipeline/util/tar.ts';

const run = promisify(execFile);

export const STANDIN_ARCHES = ['amd64', 'arm64'] as const;
type Arch = (typeof STANDIN_ARCHES)[number];

const APPLETS = ['sh', 'ash', 'cat', 'chmod', 'chown', 'cp', 'echo', 'env', 'grep', 'id', 'ln', 'ls', 'mkdir', 'mv',
  'printf', 'rm', 'sed', 'sleep', 'test', '[', 'touch', 'true', 'false', 'uname', 'wc', 'head', 'tail', 'tr', 'cut', 'find', 'xargs', 'sort'];

export interface SeededBase {
  reference: string;
  digest: string;
  platforms: Record<string, string>;
  revision: number;
}

/**
 * Debian's busybox-static binary for an architecture, downloaded once with apt and cached. Parallel
 * callers (test files seeding at once) take turns, and the file appears whole or not at all.
 */
export async function busyboxFor(arch: Arch, cacheDir: string): Promise<string> {
  const target = join(cacheDir, `busybox-${arch}`);
  if (existsSync(target)) return target;
  if (process.getuid?.() !== 0) {
    throw new EksdError('ENV_STANDIN', `busybox-static for ${arch} is not cached at ${target}`, { hint: 'run eksd env up as root once, so it can be fetched with apt' });
  }
  return withPidLock(APT_LOCK, async () => {
    if (!existsSync(target)) await fetchBusybox(arch, target);
    return target;
  });
}

async function fetchBusybox(arch: Arch, target: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'eksd-busybox-'));
  const native = (await run('dpkg', ['--print-architecture'])).stdout.trim();
  try {
    if (arch !== native) {
      await run('dpkg', ['--add-architecture', arch]);
      await run('apt-get', ['update', '-qq'], { maxBuffer: 64 << 20 });
    }
    await run('apt-get', ['download', `busybox-static:${arch}`], { cwd: work, maxBuffer: 64 << 20 });
    const deb = (await readdir(work)).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download produced no .deb');
    await run('dpkg-deb', ['-x', join(work, deb), join(work, 'root')]);
    await mkdir(dirname(target), { recursive: true });
    const partial = `${target}.${process.pid}.partial`;
    await copyFile(join(work, 'root', 'bin', 'busybox'), partial);
    await rename(partial, target);
  } catch (cause) {
    throw new EksdError('ENV_STANDIN', `cannot fetch busybox-static for ${arch}: ${(cause as Error).message}`, { cause, hint: 'check that Debian packages are reachable (apt-get update)' });
  } finally {
    if (arch !== native) await run('dpkg', ['--remove-architecture', arch]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

function rootfs(busybox: Buffer, arch: Arch, revision: number): TarEntry[] {
  const release = [
    'NAME="Amazon Linux"', 'VERSION="2"', 'ID="amzn"', 'ID_LIKE="centos rhel fedora"', 'VERSION_ID="2"',
    `PRETTY_NAME="Amazon Linux 2 (local stand-in, revision ${revision})"`, '',
  ].join('\n');
  return [
    { name: 'bin/', mode: 0o755 },
    { name: 'bin/busybox', content: busybox, mode: 0o755 },
    ...APPLETS.map((a) => ({ name: `bin/${a}`, linkname: 'busybox' })),
    { name: 'etc/', mode: 0o755 },
    { name: 'etc/os-release', content: Buffer.from(release) },
    { name: 'etc/system-release', content: Buffer.from(`Amazon Linux release 2 (stand-in revision ${revision})\n`) },
    { name: 'etc/passwd', content: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n') },
    { name: 'etc/group', content: Buffer.from('root:x:0:\nnobody:x:65534:\n') },
    { name: 'root/', mode: 0o700 },
    { name: 'tmp/', mode: 0o1777 },
    { name: 'usr/', mode: 0o755 },
    { name: 'usr/bin/', mode: 0o755 },
    { name: 'usr/bin/env', linkname: '/bin/busybox' },
    { name: 'var/', mode: 0o755 },
    { name: 'var/lib/', mode: 0o755 },
    { name: 'var/lib/rpm/', mode: 0o755 },
    { name: 'var/lib/rpm/Packages', content: Buffer.from(`# stand-in package database\nsystem-release-2-${revision}.amzn2.${arch === 'amd64' ? 'x86_64' : 'aarch64'}\n`) },
  ];
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Pushes the stand-in index for one revision and tags it; returns its digests. */
export async function seedStandinBase(client: RegistryClient, repository: string, tag: string, revision: number,
  busyboxDir: string): Promise<SeededBase> {
  const platforms: Record<string, string> = {};
  const entries = [];
  for (const arch of STANDIN_ARCHES) {
    const busybox = await readFile(await busyboxFor(arch, busyboxDir));
    const layerTar = await tarBuffer(rootfs(busybox, arch, revision));
    const layer = gzipSync(layerTar, { level: 9 });
    const config = Buffer.from(JSON.stringify({
      architecture: arch, os: 'linux', created: `2026-01-${String(Math.min(revision, 28)).padStart(2, '0')}T00:00:00Z`,
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [sha(layerTar)] },
      history: [{ created_by: `eksd stand-in Amazon Linux 2 revision ${revision}` }],
    }));
    await client.pushBlob(repository, new Uint8Array(layer), { digest: sha(layer), size: layer.length });
    await client.pushBlob(repository, new Uint8Array(config), { digest: sha(config), size: config.length });
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: sha(config), size: config.length },
      layers: [{ mediaType: MEDIA.ociLayerGzip, digest: sha(layer), size: layer.length }],
    }));
    const digest = await client.putManifest(repository, sha(manifest), new Uint8Array(manifest), MEDIA.ociManifest);
    platforms[`linux/${arch}`] = digest;
    entries.push({ mediaType: MEDIA.ociManifest, digest, size: manifest.length, platform: { architecture: arch, os: 'linux' } });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: entries }));
  const digest = await client.putManifest(repository, tag, new Uint8Array(index), MEDIA.ociIndex);
  return { reference: `${client.registry}/${repository}:${tag}`, digest, platforms, revision };
}
