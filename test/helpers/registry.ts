/**
 * Throwaway registries for tests and benchmarks.
 *
 *   const reg = await startRegistry();              // anonymous, deletes enabled
 *   const client = new RegistryClient({ registry: reg.host });
 *   ...
 *   await reg.stop();                               // kills the process (by pid) and removes its dir
 *
 * `startRegistry({ auth: tokenServer.registryAuth })` gives token auth (see token-server.ts);
 * `startRegistry({ auth: { htpasswd: TEST_HTPASSWD.line } })` gives Basic auth.
 * The second half of this file builds small OCI images and indexes in memory (gzip tar layers, configs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { RegistryClient } from '../../pipeline/registry/index.ts';
import * as mt from '../../pipeline/image/media-types.ts';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface TokenAuthConfig { tokenRealm: string; service: string; issuer: string; rootCertBundlePath: string }
/** `htpasswd`: the file's contents (bcrypt lines, as distribution only reads bcrypt). */
export interface HtpasswdAuthConfig { htpasswd: string }

export interface StartRegistryOptions {
  auth?: TokenAuthConfig | HtpasswdAuthConfig;
  /** Deletes are on unless this is false. */
  deleteEnabled?: boolean;
}

export interface RunningRegistry {
  /** "127.0.0.1:PORT". */
  host: string;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

/** A Basic-auth user for `startRegistry({auth: {htpasswd: TEST_HTPASSWD.line}})` (bcrypt, cost 5). */
export const TEST_HTPASSWD = {
  username: 'basic-user',
  password: 'basic-pass-7Qx9',
  line: 'basic-user:$2b$05$0p6recMh6QesryIqeP4q7Of/IEIW/BAg3KS/ljv8ceWgApDY2AHIW',
};

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function authSection(auth: StartRegistryOptions['auth'], dir: string): object | undefined {
  if (!auth) return undefined;
  if ('htpasswd' in auth) return { htpasswd: { realm: 'test-registry', path: join(dir, 'htpasswd') } };
  return { token: { realm: auth.tokenRealm, service: auth.service, issuer: auth.issuer, rootcertbundle: auth.rootCertBundlePath } };
}

function config(dir: string, port: number, marker: string, o: StartRegistryOptions): object {
  const auth = authSection(o.auth, dir);
  return {
    version: 0.1,
    log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(dir, 'data') },
      delete: { enabled: o.deleteEnabled !== false },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex'), headers: { 'X-Test-Registry': [marker] } },
    ...(auth ? { auth } : {}),
  };
}

/** Waits for this child to answer /v2/ (its marker header: another server that took the port does not count). */
async function waitUntilUp(host: string, marker: string, child: ChildProcess, logPath: string): Promise<void> {
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${readFileSync(logPath, 'utf8').slice(-2000)}`);
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.arrayBuffer();
      if (res.headers.get('x-test-registry') === marker) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry on ${host} did not answer /v2/ within 15s`);
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () => (stopped ??= (async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  })());
}

/**
 * Starts `docker-registry serve` on a free loopback port with its storage in a temp dir. The port is
 * free when picked but another process may take it before the registry binds; then it tries another.
 */
export async function startRegistry(o: StartRegistryOptions = {}): Promise<RunningRegistry> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRegistryOnce(o);
    } catch (e) {
      if (attempt >= 5 || !/address already in use|did not answer/.test(String(e))) throw e;
    }
  }
}

async function startRegistryOnce(o: StartRegistryOptions): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'eksd-registry-'));
  const port = await freePort();
  const configPath = join(dir, 'config.yml');
  const marker = randomBytes(8).toString('hex');
  await writeFile(configPath, JSON.stringify(config(dir, port, marker, o), null, 2));
  if (o.auth && 'htpasswd' in o.auth) await writeFile(join(dir, 'htpasswd'), `${o.auth.htpasswd.trim()}\n`);
  const logPath = join(dir, 'registry.log');
  const fd = openSync(logPath, 'a');
  const child = spawn(REGISTRY_BINARY, ['serve', configPath], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const host = `127.0.0.1:${port}`;
  const stop = stopper(child, dir);
  try {
    await waitUntilUp(host, marker, child, logPath);
  } catch (e) {
    await stop();
    throw e;
  }
  return { host, dir, pid: child.pid ?? -1, stop };
}

// ---------------------------------------------------------------------------------------------------
// In-memory test images: deterministic gzip tar layers, configs, manifests and indexes.

export interface TestBlob { mediaType: string; digest: string; size: number; bytes: Buffer }
export interface TestImage { mediaType: string; digest: string; bytes: Buffer; config: TestBlob; layers: TestBlob[]; arch: string }
export interface TestIndex { mediaType: string; digest: string; bytes: Buffer; images: TestImage[] }

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Deterministic, incompressible bytes: an AES-256-CTR keystream keyed by the seed. */
export function pseudoRandom(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number): void => { h.write(s.slice(0, len), off, 'ascii'); };
  const octal = (n: number, len: number): string => n.toString(8).padStart(len - 1, '0');
  put(name, 0, 100); put(octal(0o644, 8), 100, 8); put(octal(0, 8), 108, 8); put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12); put(octal(0, 12), 136, 12); put('        ', 148, 8); put('0', 156, 1);
  put('ustar\u000000', 257, 8);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8);
  return h;
}

/** A tar with the given files (fixed mode, owner and mtime), and its gzip (level 1). */
export function tarGz(files: Array<{ name: string; content: Buffer }>): { tar: Buffer; gz: Buffer } {
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(tarHeader(f.name, f.content.length), f.content, Buffer.alloc((512 - (f.content.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  const tar = Buffer.concat(parts);
  return { tar, gz: gzipSync(tar, { level: 1 }) };
}

function blob(mediaType: string, bytes: Buffer): TestBlob {
  return { mediaType, digest: sha256(bytes), size: bytes.length, bytes };
}

/** One image: `layerSizes` layers of pseudo-random file content, a config naming their diff ids, a manifest. */
export function buildImage(o: { seed: string; arch: string; layerSizes: number[]; docker?: boolean }): TestImage {
  const layerType = o.docker ? mt.DOCKER_LAYER_GZIP : mt.OCI_LAYER_GZIP;
  const diffIds: string[] = [];
  const layers = o.layerSizes.map((size, i) => {
    const { tar, gz } = tarGz([{ name: `data/${o.arch}-${i}.bin`, content: pseudoRandom(`${o.seed}/${o.arch}/${i}`, size) }]);
    diffIds.push(sha256(tar));
    return blob(layerType, gz);
  });
  const configJson = { architecture: o.arch, os: 'linux', created: '2025-01-01T00:00:00Z', config: { Labels: { seed: o.seed } }, rootfs: { type: 'layers', diff_ids: diffIds } };
  const config = blob(o.docker ? mt.DOCKER_CONFIG : mt.OCI_CONFIG, Buffer.from(JSON.stringify(configJson)));
  const mediaType = o.docker ? mt.DOCKER_MANIFEST : mt.OCI_MANIFEST;
  const desc = (b: TestBlob): object => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config: desc(config), layers: layers.map(desc) }, null, 2));
  return { mediaType, digest: sha256(bytes), bytes, config, layers, arch: o.arch };
}

/** An index over one image per architecture. */
export function buildIndex(o: { seed: string; arches?: string[]; layerSizes: number[]; docker?: boolean }): TestIndex {
  const images = (o.arches ?? ['amd64', 'arm64']).map((arch) => buildImage({ seed: o.seed, arch, layerSizes: o.layerSizes, ...(o.docker ? { docker: true } : {}) }));
  const mediaType = o.docker ? mt.DOCKER_LIST : mt.OCI_INDEX;
  const manifests = images.map((i) => ({ mediaType: i.mediaType, digest: i.digest, size: i.bytes.length, platform: { os: 'linux', architecture: i.arch } }));
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests }));
  return { mediaType, digest: sha256(bytes), bytes, images };
}

/** Pushes an image or index (blobs, children by digest, then the tag); returns the top digest. */
export async function pushTestImage(client: RegistryClient, repo: string, image: TestImage | TestIndex, tag?: string): Promise<string> {
  const images = 'images' in image ? image.images : [image];
  await Promise.all(images.map(async (img) => {
    await Promise.all([img.config, ...img.layers].map((b) => client.pushBlob(repo, b.bytes, { digest: b.digest })));
    await client.putManifest(repo, img.digest, img.bytes, img.mediaType);
  }));
  await client.putManifest(repo, image.digest, image.bytes, image.mediaType);
  if (tag) await client.putManifest(repo, tag, image.bytes, image.mediaType);
  return image.digest;
}
