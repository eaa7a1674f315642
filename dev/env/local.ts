/**
 * The local environment: Docker Engine (with BuildKit), binfmt_misc + qemu for arm64 RUN steps, and the
 * distribution registry on 127.0.0.1:5000. Everything listens on loopback only; dockerd runs with
 * --bridge=none --iptables=false on its own socket and data directory, so it never touches a system engine.
 * `up` is idempotent (a second call while everything runs only checks health), `down` stops exactly the
 * processes whose pids `up` recorded.
 */
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { request } from 'node:http';
import { EksdError } from '../../pipeline/errors.ts';
import { alive, holderAlive, withPidLock } from '../../pipeline/util/pid-lock.ts';

const run = promisify(execFile);

export interface EnvLayout {
  /** Root of the environment's own state: pids, logs, dockerd data, registry storage. */
  root: string;
  dockerSocket: string;
  registryAddress: string;
}

export const DEFAULT_ENV: EnvLayout = {
  root: process.env.EKSD_ENV_DIR ?? '/var/lib/eksd-env',
  dockerSocket: process.env.EKSD_DOCKER_SOCKET ?? '/run/eksd/docker.sock',
  registryAddress: '127.0.0.1:5000',
};

/** Held around our apt and dpkg work (installing packages, fetching busybox), which is machine-wide. */
export const APT_LOCK = join(DEFAULT_ENV.root, 'apt.lock');

export const REQUIRED_PACKAGES = ['docker.io', 'docker-registry', 'qemu-user-static', 'skopeo'] as const;

export interface ServiceStatus { name: string; running: boolean; pid?: number; detail: string }
export type Progress = (line: string) => void;

export async function envUp(layout: EnvLayout = DEFAULT_ENV, progress: Progress = () => {}): Promise<ServiceStatus[]> {
  const before = await envStatus(layout);
  if (before.every((s) => s.running)) return before;
  // Test files and CI steps may call up at the same moment; one starts the services, the others wait.
  return withPidLock(join(layout.root, 'up.lock'), () => startMissing(layout, progress));
}

async function startMissing(layout: EnvLayout, progress: Progress): Promise<ServiceStatus[]> {
  await ensurePackages(progress);
  await ensureBinfmt(progress);
  if (!(await runningOrStarting(layout, 'dockerd', () => dockerHealthy(layout)))) await startDockerd(layout, progress);
  if (!(await runningOrStarting(layout, 'registry', () => registryHealthy(layout)))) await startRegistry(layout, progress);
  const after = await envStatus(layout);
  const down = after.filter((s) => !s.running);
  if (down.length > 0) {
    throw new EksdError('ENV_START_FAILED', `could not start ${down.map((s) => s.name).join(', ')}`, {
      where: layout.root, hint: `see the logs in ${join(layout.root, 'logs')}`,
    });
  }
  return after;
}

/**
 * True when the service answers, or when the process we started for it still runs and answers within a
 * minute (a busy machine can miss one health check; starting a second copy would orphan the first).
 */
async function runningOrStarting(layout: EnvLayout, name: string, healthy: () => Promise<boolean>): Promise<boolean> {
  if (await healthy()) return true;
  if (ownedPid(layout, name) === undefined) return false;
  try {
    await waitFor(healthy, 60_000, name, layout);
    return true;
  } catch (e) {
    if (ownedPid(layout, name) === undefined) return false; // it died meanwhile: start it again
    throw e;
  }
}

export async function envStatus(layout: EnvLayout = DEFAULT_ENV): Promise<ServiceStatus[]> {
  const dockerPid = ownedPid(layout, 'dockerd');
  const registryPid = ownedPid(layout, 'registry');
  const docker = await dockerHealthy(layout);
  const registry = await registryHealthy(layout);
  const binfmt = binfmtReady();
  return [
    { name: 'dockerd', running: docker, ...(dockerPid ? { pid: dockerPid } : {}),
      detail: docker ? `unix://${layout.dockerSocket}` : 'not running' },
    { name: 'registry', running: registry, ...(registryPid ? { pid: registryPid } : {}),
      detail: registry ? `http://${layout.registryAddress}` : 'not running' },
    { name: 'binfmt', running: binfmt, detail: binfmt ? `qemu-${foreignQemuArch()} registered` : 'not registered' },
  ];
}

/** Stops the processes this environment started (by recorded pid). Returns the names it stopped. */
export async function envDown(layout: EnvLayout = DEFAULT_ENV): Promise<string[]> {
  const stopped: string[] = [];
  for (const name of ['registry', 'dockerd']) {
    const pid = ownedPid(layout, name);
    if (pid !== undefined) {
      await stopPid(pid, name === 'dockerd' ? 30_000 : 5_000);
      stopped.push(name);
    }
    rmSync(pidFile(layout, name), { force: true });
  }
  return stopped;
}

// ---- packages --------------------------------------------------------------------------------------

async function missingPackages(): Promise<string[]> {
  const missing: string[] = [];
  for (const pkg of REQUIRED_PACKAGES) {
    try {
      const { stdout } = await run('dpkg-query', ['-W', '-f=${Status}', pkg]);
      if (!stdout.includes('install ok installed')) missing.push(pkg);
    } catch { missing.push(pkg); }
  }
  return missing;
}

async function ensurePackages(progress: Progress): Promise<void> {
  const missing = await missingPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new EksdError('ENV_PACKAGES_MISSING', `missing Debian packages: ${missing.join(', ')}`, {
      hint: `run as root, or install them: apt-get install -y ${missing.join(' ')}`,
    });
  }
  progress(`installing ${missing.join(', ')} from apt`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await withPidLock(APT_LOCK, async () => {
    await run('apt-get', ['update', '-qq'], { env, maxBuffer: 64 << 20 });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, maxBuffer: 64 << 20 });
  });
}

// ---- binfmt ----------------------------------------------------------------------------------------

const BINFMT = '/proc/sys/fs/binfmt_misc';

/** The architecture this host needs emulation for: arm64 on amd64 hosts and the other way round. */
function foreignQemuArch(): string {
  return process.arch === 'arm64' ? 'x86_64' : 'aarch64';
}

function binfmtReady(): boolean {
  return existsSync(join(BINFMT, `qemu-${foreignQemuArch()}`));
}

async function ensureBinfmt(progress: Progress): Promise<void> {
  if (binfmtReady()) return;
  if (!existsSync(join(BINFMT, 'register'))) {
    progress('mounting binfmt_misc');
    await run('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT]).catch((cause) => {
      throw new EksdError('ENV_BINFMT', `cannot mount binfmt_misc at ${BINFMT}`, { cause, hint: 'run as root' });
    });
  }
  const conf = `/usr/lib/binfmt.d/qemu-${foreignQemuArch()}.conf`;
  if (!existsSync(conf)) {
    throw new EksdError('ENV_BINFMT', `qemu binfmt entry not found at ${conf}`, { hint: 'apt-get install qemu-user-static' });
  }
  progress(`registering qemu-${foreignQemuArch()} with binfmt_misc`);
  writeFileSync(join(BINFMT, 'register'), readFileSync(conf));
}

// ---- dockerd ---------------------------------------------------------------------------------------

async function startDockerd(layout: EnvLayout, progress: Progress): Promise<void> {
  progress(`starting dockerd on unix://${layout.dockerSocket}`);
  const data = join(layout.root, 'docker');
  mkdirSync(data, { recursive: true });
  mkdirSync(join(layout.dockerSocket, '..'), { recursive: true });
  const execRoot = join(layout.dockerSocket, '..', 'docker-exec');
  startDetached(layout, 'dockerd', SERVICE_BINARY.dockerd!, [
    '--host', `unix://${layout.dockerSocket}`,
    '--data-root', data, '--exec-root', execRoot,
    '--pidfile', join(layout.root, 'dockerd.engine.pid'),
    '--bridge=none', '--iptables=false', '--ip-masq=false',
    '--log-level=warn',
  ], { DOCKER_BUILDKIT: '1' });
  await waitFor(() => dockerHealthy(layout), 60_000, 'dockerd', layout);
}

function dockerHealthy(layout: EnvLayout): Promise<boolean> {
  return httpOk({ socketPath: layout.dockerSocket, path: '/_ping' });
}

// ---- registry --------------------------------------------------------------------------------------

async function startRegistry(layout: EnvLayout, progress: Progress): Promise<void> {
  progress(`starting the distribution registry on ${layout.registryAddress}`);
  const dir = join(layout.root, 'registry');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const config = join(dir, 'config.yml');
  writeFileSync(config, [
    'version: 0.1',
    'log: { level: warn }',
    'storage:',
    `  filesystem: { rootdirectory: ${join(dir, 'data')} }`,
    '  delete: { enabled: true }',
    'http:',
    `  addr: ${layout.registryAddress}`,
    '',
  ].join('\n'));
  startDetached(layout, 'registry', SERVICE_BINARY.registry!, ['serve', config], {});
  await waitFor(() => registryHealthy(layout), 20_000, 'registry', layout);
}

function registryHealthy(layout: EnvLayout): Promise<boolean> {
  const [host, port] = layout.registryAddress.split(':');
  return httpOk({ host, port: Number(port), path: '/v2/' });
}

// ---- processes -------------------------------------------------------------------------------------

function pidFile(layout: EnvLayout, name: string): string {
  return join(layout.root, `${name}.pid`);
}

/** The recorded pid of a service we started, if that process still runs. */
function ownedPid(layout: EnvLayout, name: string): number | undefined {
  const file = pidFile(layout, name);
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  const pid = Number(text.trim());
  return holderAlive(text) && runs(pid, SERVICE_BINARY[name]!) ? pid : undefined;
}

/** The program each service runs: a recorded pid that now belongs to another program (after a reboot) is not ours. */
const SERVICE_BINARY: Record<string, string> = { dockerd: 'dockerd', registry: 'docker-registry' };

function runs(pid: number, binary: string): boolean {
  try {
    return basename(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '') === binary;
  } catch {
    return false;
  }
}

/** Starts a service in its own session with output to a log file, so it never holds the caller's pipes. */
function startDetached(layout: EnvLayout, name: string, cmd: string, args: string[], env: Record<string, string>): void {
  mkdirSync(join(layout.root, 'logs'), { recursive: true });
  const log = openSync(join(layout.root, 'logs', `${name}.log`), 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', log, log], env: { ...process.env, ...env } });
  closeSync(log);
  if (child.pid === undefined) {
    throw new EksdError('ENV_START_FAILED', `could not start ${cmd}`, { hint: `is ${cmd} installed?` });
  }
  child.unref();
  writeFileSync(pidFile(layout, name), `${child.pid}\n`);
}

async function stopPid(pid: number, graceMs: number): Promise<void> {
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, name: string, layout: EnvLayout): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (ownedPid(layout, name) === undefined) break;
    await sleep(150);
  }
  const logFile = join(layout.root, 'logs', `${name}.log`);
  const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n  ') : '';
  throw new EksdError('ENV_START_FAILED', `${name} did not become ready in ${timeoutMs / 1000}s`, {
    where: logFile, hint: tail ? `last log lines:\n  ${tail}` : 'check the log file',
  });
}

function httpOk(options: { host?: string; port?: number; socketPath?: string; path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ ...options, method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
