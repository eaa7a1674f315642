/**
 * Where the Docker engine runs, from the configured `dockerSocket`: a unix socket ("/run/eksd/docker.sock",
 * "unix:///var/run/docker.sock") is an engine on this machine; "tcp://host:port" is a remote one. Only an
 * engine on this machine shares our 127.0.0.1, so only it can pull parents from the endpoint there
 * (parent-proxy.ts); a remote engine pulls them from their registries itself. A socket can look local and
 * lead elsewhere (forwarded from a VM, or a rootless dockerd in its own network namespace): the engine is
 * asked to reach the endpoint once before it is relied on.
 */
import type Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EksdError } from '../../errors.ts';

export interface EngineAddress {
  /** dockerode's connection options. */
  options: Docker.DockerOptions;
  /** The engine runs on this machine (a unix socket). */
  local: boolean;
}

/** `certPath`: a folder with ca.pem, cert.pem and key.pem (TLS client certificates, as Docker contexts keep them). */
export function engineAddress(value: string, certPath?: string): EngineAddress {
  if (value.startsWith('tcp://')) {
    const url = new URL(value);
    if (!url.hostname || !url.port) {
      throw new EksdError('CONFIG_INVALID', `dockerSocket ${value} names no host and port`, {
        where: 'dockerSocket (EKSD_DOCKER_SOCKET)', hint: 'use a unix socket path or tcp://host:port',
      });
    }
    const tls = certPath ? { protocol: 'https' as const, ...clientCertificates(certPath) } : { protocol: 'http' as const };
    return { options: { host: url.hostname, port: Number(url.port), ...tls }, local: false };
  }
  return { options: { socketPath: value.startsWith('unix://') ? value.slice('unix://'.length) : value }, local: true };
}

/** The engine's name in a run's timeline: its socket path or host:port, 'local' when none is configured. */
export function engineName(value: string | undefined): string {
  if (!value) return 'local';
  if (value.startsWith('tcp://')) return new URL(value).host || value;
  return value.startsWith('unix://') ? value.slice('unix://'.length) : value;
}

/**
 * Whether the engine reaches `host`, an endpoint of ours: it is asked to pull a name there (refused, as
 * the endpoint serves no tags), and the endpoint's request count must have moved meanwhile.
 */
export async function engineReaches(docker: Docker, host: string, requests: () => number, timeoutMs = 10_000): Promise<boolean> {
  const before = requests();
  let timer: NodeJS.Timeout | undefined;
  const pulled = (async () => {
    const stream = await docker.pull(`${host}/eksd-probe/reach:probe`);
    await new Promise<void>((resolve) => docker.modem.followProgress(stream, () => resolve()));
  })().catch(() => undefined);
  await Promise.race([pulled, new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
  clearTimeout(timer);
  return requests() > before;
}

function clientCertificates(dir: string): { ca: Buffer; cert: Buffer; key: Buffer } {
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name));
    } catch (cause) {
      throw new EksdError('CONFIG_INVALID', `cannot read the engine's TLS ${name} in ${dir}: ${(cause as Error).message}`, {
        where: join(dir, name), hint: 'point certPath (or dockerCertPath, EKSD_DOCKER_CERT_PATH) at a folder holding ca.pem, cert.pem and key.pem', cause,
      });
    }
  };
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
}
