/**
 * Configuration: a profile (config/<name>.yaml, embedded: local and production), then a --config file,
 * then EKSD_* environment variables, then command-line flags; each later source wins.
 * Relative paths resolve against the project root (the working directory).
 */
import { existsSync } from 'node:fs';
import { resolve, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EksdError } from '../errors.ts';
import { readYaml, parseYaml } from '../util/yaml-source.ts';
import { validateAgainstSchema } from '../util/schema.ts';
import { isChannel } from './channel.ts';
import { enginesOf, type EngineSetting } from './engines.ts';
import { coerce, deepMerge, setPath } from './merge.ts';
import { parseSigningSettings, type SigningSettings } from '../sign/settings.ts';

export type { Platform } from './platform.ts';
import type { Platform } from './platform.ts';

export interface Config {
  profile: string;
  /** The one channel to work on (EKSD_CHANNEL, --channel); unset: every active channel of the catalog. */
  channel?: string;
  imageRepo: string;
  baseImageRepo: string;
  basePin: string;
  platforms: Platform[];
  artifacts: { baseUrl: string; cacheDir: string };
  site: { dir: string; baseUrl: string; bucket?: string; prefix?: string; acl?: string; verifyUrl?: string };
  announce: { kind: 'outbox' | 'sns'; dir?: string; topicArn?: string };
  aws: { region: string; ecrPublic: boolean; ecrPublicEndpoint?: string; snsEndpoint?: string; s3Endpoint?: string; ecrPublicRegistry?: string; s3TimeoutSeconds?: number };
  stateDir: string;
  /** S3 bucket of the release state (default: site.bucket); unset with no site bucket: the state is in stateDir. */
  stateBucket?: string;
  /** Key prefix of the release state in its bucket: '' never, else ending with '/' (default 'state/'); never under the site's prefix. */
  statePrefix: string;
  leaseSeconds: number;
  /** The default Docker engine: a unix socket, or tcp://host:port (with `dockerCertPath`: TLS client certificates). */
  dockerSocket: string;
  dockerCertPath?: string;
  /** A Docker engine of its own per platform (a native arm64 machine); a platform without one builds on the default. */
  engines: Partial<Record<Platform, EngineSetting>>;
  concurrency: number;
  /** assemble: COPY-only recipes are assembled without the engine (false: every image through BuildKit). */
  build: { assemble: boolean };
  /** How images are signed and attested; absent: not at all (`kind: off`). */
  signing?: SigningSettings;
  /** Where the catalog lives (images/ and base/). */
  root: string;
}

/** Environment variable -> dotted config key. Documented in README ("Configuration"). */
export const ENV_KEYS: Record<string, string> = {
  EKSD_CHANNEL: 'channel',
  EKSD_IMAGE_REPO: 'imageRepo',
  EKSD_BASE_IMAGE_REPO: 'baseImageRepo',
  EKSD_BASE_PIN: 'basePin',
  EKSD_ARTIFACTS_URL: 'artifacts.baseUrl',
  EKSD_SITE_DIR: 'site.dir',
  EKSD_SITE_URL: 'site.baseUrl',
  EKSD_SITE_BUCKET: 'site.bucket',
  EKSD_SITE_PREFIX: 'site.prefix',
  EKSD_SITE_ACL: 'site.acl',
  EKSD_SITE_VERIFY_URL: 'site.verifyUrl',
  EKSD_S3_ENDPOINT: 'aws.s3Endpoint',
  EKSD_ECR_PUBLIC_REGISTRY: 'aws.ecrPublicRegistry',
  EKSD_LEASE_TTL: 'leaseSeconds',
  EKSD_ANNOUNCE: 'announce.kind',
  EKSD_OUTBOX_DIR: 'announce.dir',
  EKSD_SNS_TOPIC_ARN: 'announce.topicArn',
  EKSD_AWS_REGION: 'aws.region',
  EKSD_ECR_PUBLIC_ENDPOINT: 'aws.ecrPublicEndpoint',
  EKSD_SNS_ENDPOINT: 'aws.snsEndpoint',
  EKSD_STATE_DIR: 'stateDir',
  EKSD_STATE_BUCKET: 'stateBucket',
  EKSD_STATE_PREFIX: 'statePrefix',
  EKSD_S3_TIMEOUT: 'aws.s3TimeoutSeconds',
  EKSD_DOCKER_SOCKET: 'dockerSocket',
  EKSD_DOCKER_CERT_PATH: 'dockerCertPath',
  EKSD_ENGINE_AMD64: 'engines.linux/amd64',
  EKSD_ENGINE_ARM64: 'engines.linux/arm64',
  EKSD_CONCURRENCY: 'concurrency',
  EKSD_ASSEMBLE: 'build.assemble',
  EKSD_SIGNING: 'signing.kind',
  EKSD_SIGNING_KEY: 'signing.privateKey',
  EKSD_SIGNING_PUBLIC_KEY: 'signing.publicKey',
  EKSD_KMS_KEY_ID: 'signing.keyId',
  EKSD_KMS_ENDPOINT: 'signing.endpoint',
  EKSD_FULCIO_URL: 'signing.fulcioUrl',
  EKSD_REKOR_URL: 'signing.rekorUrl',
  EKSD_SIGNING_ISSUER: 'signing.identity.issuer',
  EKSD_SIGNING_IDENTITY: 'signing.identity.subject',
  EKSD_TRUSTED_ROOT: 'signing.trustedRoot',
};

export interface ConfigOptions {
  profile?: string;
  configFile?: string;
  /** Dotted key -> value, from flags. */
  overrides?: Record<string, string | undefined>;
  env?: NodeJS.ProcessEnv;
  root?: string;
}

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function loadConfig(options: ConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const profile = options.profile ?? env.EKSD_PROFILE ?? 'local';
  const profileFile = resolve(PROJECT_ROOT, 'config', `${profile}.yaml`);
  if (!existsSync(profileFile)) {
    throw new EksdError('CONFIG_PROFILE_UNKNOWN', `unknown profile '${profile}'`, {
      where: 'EKSD_PROFILE / --profile', hint: 'use local or production, or pass --config <file>',
    });
  }
  const merged = readYaml(profileFile).data as Record<string, unknown>;
  const configFile = options.configFile ?? env.EKSD_CONFIG;
  if (configFile) {
    const file = readYaml(resolve(configFile)).data as Record<string, unknown>;
    newSigner(merged, (file.signing as { kind?: unknown } | undefined)?.kind);
    deepMerge(merged, file);
  }
  newSigner(merged, env.EKSD_SIGNING || undefined);
  newSigner(merged, options.overrides?.['signing.kind']);
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(merged, key, coerce(key, v));
  }
  for (const [key, v] of Object.entries(options.overrides ?? {})) {
    if (v !== undefined) setPath(merged, key, coerce(key, v));
  }
  // Validate the merged result so a bad env var or flag is reported like a bad file.
  const source = parseYaml(JSON.stringify(merged, null, 1), configFile ?? profileFile, { shown: `configuration (profile ${profile}${configFile ? ` + ${configFile}` : ''} + EKSD_* + flags)` });
  validateAgainstSchema('config', source);
  return finish(merged, options.root ?? process.cwd());
}

function finish(raw: Record<string, unknown>, root: string): Config {
  const c = raw as unknown as Config;
  if (c.channel !== undefined && !isChannel(c.channel)) {
    throw new EksdError('CONFIG_INVALID', `invalid release channel ${JSON.stringify(c.channel)}`, {
      where: configWhere('channel'), hint: 'a channel is the Kubernetes minor with a dash and no leading zeros, e.g. 1-33',
    });
  }
  checkUrl('site.baseUrl', c.site.baseUrl, { file: false, credentials: false });
  checkUrl('artifacts.baseUrl', c.artifacts.baseUrl, { file: true, credentials: true });
  if (c.site.verifyUrl) checkUrl('site.verifyUrl', c.site.verifyUrl, { file: false, credentials: false });
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(root, p));
  const announce = { ...c.announce, ...(c.announce.dir ? { dir: abs(c.announce.dir) } : {}) };
  if (announce.kind === 'sns' && !announce.topicArn) {
    throw new EksdError('CONFIG_INVALID', 'announce.kind is sns but no topic ARN is set', {
      where: 'announce.topicArn', hint: 'set EKSD_SNS_TOPIC_ARN or announce.topicArn',
    });
  }
  if (announce.kind === 'outbox' && !announce.dir) announce.dir = abs('out/announcements');
  const baseUrl = c.artifacts.baseUrl.startsWith('file:') && !c.artifacts.baseUrl.startsWith('file:///')
    ? `file://${abs(c.artifacts.baseUrl.slice('file:'.length))}` : c.artifacts.baseUrl;
  const { signing: _unresolved, ...rest } = c;
  return {
    ...rest,
    platforms: c.platforms ?? ['linux/amd64', 'linux/arm64'],
    basePin: abs(c.basePin),
    artifacts: { baseUrl, cacheDir: abs(c.artifacts.cacheDir) },
    site: { ...c.site, dir: abs(c.site.dir) },
    announce,
    aws: { ...c.aws, region: c.aws?.region ?? 'us-east-1', ecrPublic: c.aws?.ecrPublic ?? false },
    leaseSeconds: c.leaseSeconds ?? 900,
    stateDir: abs(c.stateDir),
    ...stateHome(c),
    dockerSocket: c.dockerSocket ?? '/var/run/docker.sock',
    ...(c.dockerCertPath ? { dockerCertPath: abs(c.dockerCertPath) } : {}),
    engines: enginesOf(c.engines, abs),
    concurrency: c.concurrency ?? 0,
    build: { assemble: c.build?.assemble ?? true },
    ...signingOf(raw.signing, root, c.aws?.region ?? 'us-east-1'),
    root,
  };
}

/** Site prefixes the distro site writes at a bucket's root (site/ layout): the state never goes there. */
const SITE_TOP_LEVEL = /^(kubernetes-|releasechannels\/|crds\/|mirrors\/)/;

/** A source that names another signer replaces the signing settings before it, rather than merging into them. */
function newSigner(merged: Record<string, unknown>, kind: unknown): void {
  const current = merged.signing as { kind?: unknown } | undefined;
  if (kind !== undefined && current && current.kind !== kind) delete merged.signing;
}

/** The signing settings with their files resolved; `kind: off` (EKSD_SIGNING=off) turns signing off. */
function signingOf(raw: unknown, root: string, region: string): { signing?: SigningSettings } {
  const r = raw as Record<string, unknown> | undefined;
  if (!r || r.kind === 'off') return {};
  const signing = parseSigningSettings({ ...(r.kind === 'kms' ? { region } : {}), ...r }, 'configuration', root);
  return signing ? { signing } : {};
}

/**
 * Where the release state lives in S3: its own bucket, or its own prefix beside the site, never the site
 * prefix or anything under it (the site is public; the state is not, and a sync of the site must not carry
 * leases, ledger entries or journals). Checked here, so a bad setting stops before anything is touched.
 */
function stateHome(c: Config): { stateBucket?: string; statePrefix: string } {
  const statePrefix = prefixOf(c.statePrefix ?? 'state/');
  const stateBucket = c.stateBucket || c.site.bucket || undefined;
  if (!stateBucket || stateBucket !== c.site.bucket) return { ...(stateBucket ? { stateBucket } : {}), statePrefix: statePrefix || 'state/' };
  const sitePrefix = prefixOf(c.site.prefix ?? '');
  const where = `s3://${stateBucket}/${statePrefix}`;
  const refuse = (why: string): never => {
    throw new EksdError('CONFIG_INVALID', `the release state cannot live at ${where}: ${why}`, {
      where: configWhere('statePrefix'),
      hint: 'set statePrefix (EKSD_STATE_PREFIX) to a prefix outside the site, e.g. state/, or stateBucket (EKSD_STATE_BUCKET) to a private bucket',
    });
  };
  if (!statePrefix) refuse('that is the bucket\'s root, where the site lives');
  if (sitePrefix && statePrefix.startsWith(sitePrefix)) refuse(`it is the site's prefix ${sitePrefix} or under it, so the leases, ledger and journals would be published with the site`);
  if (sitePrefix && sitePrefix.startsWith(statePrefix)) refuse(`the site (prefix ${sitePrefix}) is under it`);
  if (!sitePrefix && SITE_TOP_LEVEL.test(statePrefix)) refuse('the site, at the bucket\'s root, writes there');
  return { stateBucket, statePrefix };
}

/** A key prefix as stored: no leading slash, '' or ending with one slash. */
function prefixOf(p: string): string {
  const trimmed = p.replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed ? `${trimmed}/` : '';
}

/** A configuration for one channel: what every per-channel step (plan, release, verify, announce) works with. */
export type ChannelConfig = Config & { channel: string };

export function forChannel(config: Config, channel: string): ChannelConfig {
  return { ...config, channel };
}

/** Names the sources of a config key: the key itself, its EKSD_* variable and its flag when it has them. */
function configWhere(key: string): string {
  const env = Object.entries(ENV_KEYS).find(([, k]) => k === key)?.[0];
  const flag = CONFIG_FLAGS[key];
  return `${key} (config file key${env ? `, ${env}` : ''}${flag ? `, ${flag}` : ''})`;
}

const CONFIG_FLAGS: Record<string, string> = { channel: '--channel', imageRepo: '--image-repo', 'site.dir': '--site-dir' };

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * https, or http to a loopback host (a local site or artifact server); file: only where allowed. The
 * site URLs are published or read back anonymously, so they never carry credentials.
 */
function checkUrl(key: string, value: string, allow: { file: boolean; credentials: boolean }): void {
  const { file } = allow;
  const bad = (why: string): never => {
    throw new EksdError('CONFIG_INVALID', `${key} ${JSON.stringify(value)} ${why}`, {
      where: configWhere(key),
      hint: `use an https:// URL${file ? ' or a file: path' : ''}; plain http is allowed only for 127.0.0.1, localhost and [::1]`,
    });
  };
  if (file && value.startsWith('file:')) return;
  let url: URL;
  try { url = new URL(value); } catch { return bad('is not a URL'); }
  if (!allow.credentials && (url.username || url.password)) bad('carries credentials; the site is public, and its URL is published in every Release manifest');
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && LOOPBACK.test(url.hostname)) return;
  bad(url.protocol === 'http:' ? 'uses plain http to a host that is not loopback' : `uses ${url.protocol.replace(/:$/, '')}, not https`);
}

/** Splits "127.0.0.1:5000/eks-distro" into the registry host and the repository namespace. */
export function splitRepo(imageRepo: string): { registry: string; namespace: string } {
  const [registry, ...rest] = imageRepo.split('/');
  return { registry: registry!, namespace: rest.join('/') };
}
