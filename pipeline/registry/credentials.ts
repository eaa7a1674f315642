import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { EksdError, registerSecret } from '../errors.ts';

/** A user name and password (or token) for a registry. */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * Where the client gets credentials. `get` may cache; `refresh` (optional) is called at most once per
 * request after the registry or its token server refused the credentials `get` returned.
 */
export interface CredentialSource {
  readonly description: string;
  get(): Promise<Credentials | undefined>;
  refresh?(): Promise<Credentials | undefined>;
}

/** Fixed credentials. The password is registered as a secret. */
export function staticCredentials(creds: Credentials): CredentialSource {
  registerSecret(creds.password);
  return { description: `static credentials for user "${creds.username}"`, get: async () => creds };
}

/** The auths section of a Docker config.json. */
export interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
}

const DOCKER_HUB_ALIASES = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];

/** "https://index.docker.io/v1/" -> "index.docker.io"; "host:5000" stays. */
function keyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
}

function sameRegistry(key: string, host: string): boolean {
  const k = keyHost(key);
  const h = host.toLowerCase();
  return k === h || (DOCKER_HUB_ALIASES.includes(k) && DOCKER_HUB_ALIASES.includes(h));
}

/** Credentials for `host` from a parsed Docker config, or undefined when it has no usable entry. */
export function credentialsFromDockerConfig(config: DockerConfig, host: string, where = 'docker config'): Credentials | undefined {
  const entry = Object.entries(config.auths ?? {}).find(([k]) => sameRegistry(k, host))?.[1];
  if (!entry) return undefined;
  if (entry.username !== undefined && entry.password !== undefined) {
    registerSecret(entry.password);
    return { username: entry.username, password: entry.password };
  }
  if (entry.auth === undefined) return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) {
    throw new EksdError('REGISTRY_CREDENTIALS_INVALID', `the auths entry for ${host} in ${where} is not base64 of "user:password"`, {
      where: `${where} auths["${host}"].auth`, hint: 'run docker login again or fix the entry',
    });
  }
  const creds = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  registerSecret(creds.password);
  registerSecret(entry.auth);
  return creds;
}

/** The Docker config path: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function defaultDockerConfigPath(): string {
  return join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/**
 * Credentials from a Docker config.json (`auths[host].auth` base64, or username/password). A missing
 * file or entry means anonymous access. Credential helpers (credsStore/credHelpers) are not run.
 */
export function dockerConfigCredentials(host: string, options: { path?: string; config?: DockerConfig } = {}): CredentialSource {
  const path = options.path ?? defaultDockerConfigPath();
  let cached: Promise<Credentials | undefined> | undefined;
  const load = async (): Promise<Credentials | undefined> => {
    if (options.config) return credentialsFromDockerConfig(options.config, host);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new EksdError('REGISTRY_CREDENTIALS_UNREADABLE', `cannot read Docker config ${path} for ${host}`, { where: path, hint: 'check the file permissions', cause: e });
    }
    return credentialsFromDockerConfig(parseConfig(text, path), host, path);
  };
  return {
    description: `Docker config ${options.config ? '(in memory)' : path}`,
    get: () => (cached ??= load()),
  };
}

function parseConfig(text: string, path: string): DockerConfig {
  try {
    return JSON.parse(text) as DockerConfig;
  } catch (e) {
    throw new EksdError('REGISTRY_CREDENTIALS_INVALID', `Docker config ${path} is not valid JSON`, { where: path, hint: 'fix or remove the file', cause: e });
  }
}
