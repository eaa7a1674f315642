/**
 * Where the Docker engine runs, from the configured `dockerSocket`: a unix socket ("/run/eksd/docker.sock",
 * "unix:///var/run/docker.sock") is an engine on this machine; "tcp://host:port" is a remote one. Only an
 * engine on this machine shares our 127.0.0.1, so only it can pull parents from the endpoint there
 * (parent-proxy.ts); a remote engine pulls them from their registries itself.
 */
import type Docker from 'dockerode';
import { EksdError } from '../errors.ts';

export interface EngineAddress {
  /** dockerode's connection options. */
  options: Docker.DockerOptions;
  /** The engine runs on this machine (a unix socket). */
  local: boolean;
}

export function engineAddress(value: string): EngineAddress {
  if (value.startsWith('tcp://')) {
    const url = new URL(value);
    if (!url.hostname || !url.port) {
      throw new EksdError('CONFIG_INVALID', `dockerSocket ${value} names no host and port`, {
        where: 'dockerSocket (EKSD_DOCKER_SOCKET)', hint: 'use a unix socket path or tcp://host:port',
      });
    }
    return { options: { host: url.hostname, port: Number(url.port), protocol: 'http' }, local: false };
  }
  return { options: { socketPath: value.startsWith('unix://') ? value.slice('unix://'.length) : value }, local: true };
}
