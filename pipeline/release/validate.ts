/**
 * Validation of Release and ReleaseChannel objects, in three layers:
 *  1. the CRD's own openAPIV3Schema (crd-check.ts);
 *  2. shape: the fields our types rely on are present (the CRD has no `required` lists);
 *  3. strict (the contract of our manifests; on by default): images in tag form with an index digest,
 *     archives with uri + sha256 + sha512, names matching channel/number, sorted and unique.
 * Every violation is reported with its JSON path; nothing stops at the first one.
 */
import { EksdError } from '../errors.ts';
import { formatPath, type FieldPath } from '../util/yaml-source.ts';
import { crdViolations, isRfc3339 } from './crd-check.ts';
import { isChannel, isSafeRelPath, releaseName } from './naming.ts';
import { API_VERSION, type Release, type ReleaseChannel } from './types.ts';

export interface ValidationIssue {
  /** `status.components[0].assets[1].image.imageDigest` */
  path: string;
  segments: FieldPath;
  message: string;
}

export interface ValidateOptions {
  /** Apply our stricter contract on top of the CRD schema (default true). Off for reading foreign manifests. */
  strict?: boolean;
}

export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
export const SHA256_RE = /^[a-f0-9]{64}$/;
export const SHA512_RE = /^[a-f0-9]{128}$/;

class Issues {
  readonly list: ValidationIssue[] = [];
  /** Adds an issue unless the same path is already reported (the schema and our checks overlap). */
  add(segments: FieldPath, message: string): void {
    const path = formatPath(segments, '(document)');
    if (!this.list.some((i) => i.path === path)) this.list.push({ path, segments, message });
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** `<registry>/<repo>:<tag>`; the tag is after the last ':' that follows the last '/'. */
export function imageTag(uri: string): string | undefined {
  if (uri.includes('@')) return undefined;
  const slash = uri.lastIndexOf('/');
  const colon = uri.lastIndexOf(':');
  if (slash < 1 || colon < slash) return undefined;
  const tag = uri.slice(colon + 1);
  return /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag) ? tag : undefined;
}

function checkSorted(names: unknown[], segments: FieldPath, what: string, issues: Issues): void {
  const seen = new Set<string>();
  let prev: string | undefined;
  names.forEach((n, i) => {
    if (typeof n !== 'string') return;
    if (seen.has(n)) issues.add([...segments, i, 'name'], `duplicate ${what} name "${n}"`);
    else if (prev !== undefined && n < prev) issues.add([...segments, i, 'name'], `${what} "${n}" is out of order (must be sorted by name, after "${prev}")`);
    seen.add(n);
    prev = n;
  });
}

function assetIssues(asset: Obj, at: FieldPath, strict: boolean, release: { channel?: string; number?: number }, issues: Issues): void {
  if (!isStr(asset.name)) issues.add([...at, 'name'], 'is required');
  if (asset.type !== 'Image' && asset.type !== 'Archive') {
    if (asset.type === undefined) issues.add([...at, 'type'], 'is required');
    return;
  }
  if (typeof asset.description !== 'string') issues.add([...at, 'description'], 'is required');
  if (asset.type === 'Image') {
    const image = asset.image;
    if (!isObj(image) || !isStr(image.uri)) {
      issues.add([...at, 'image', 'uri'], 'is required for an Image asset');
    } else if (strict) {
      const tag = imageTag(image.uri);
      if (image.uri.includes('@')) issues.add([...at, 'image', 'uri'], `must be in tag form <registry>/<repo>:<tag>, not by digest: ${image.uri}`);
      else if (!tag) issues.add([...at, 'image', 'uri'], `must be in tag form <registry>/<repo>:<tag>: ${image.uri}`);
      else if (release.channel && release.number && !tag.endsWith(`-eks-${release.channel}-${release.number}`)) {
        issues.add([...at, 'image', 'uri'], `tag "${tag}" must be <gitTag>-eks-${release.channel}-${release.number}`);
      }
    }
    if (strict && isObj(image) && !(typeof image.imageDigest === 'string' && DIGEST_RE.test(image.imageDigest))) {
      issues.add([...at, 'image', 'imageDigest'], image.imageDigest === undefined
        ? 'is required (index digest sha256:<64 hex>)' : `must match ^sha256:[a-f0-9]{64}$, got ${JSON.stringify(image.imageDigest)}`);
    }
    if (strict && asset.archive !== undefined) issues.add([...at, 'archive'], 'must not be set on an Image asset');
    if (strict && asset.os !== 'linux') issues.add([...at, 'os'], 'must be "linux" for an Image asset');
    if (strict && !(Array.isArray(asset.arch) && asset.arch.length > 0)) issues.add([...at, 'arch'], 'must list at least one architecture');
  } else {
    const archive = asset.archive;
    if (!isObj(archive)) {
      issues.add([...at, 'archive'], 'is required for an Archive asset (uri, sha256, sha512)');
      return;
    }
    if (!isStr(archive.uri)) issues.add([...at, 'archive', 'uri'], 'is required');
    else if (strict && !/^https?:\/\/[^\s]+$/.test(archive.uri)) issues.add([...at, 'archive', 'uri'], `must be an http(s) URL: ${archive.uri}`);
    for (const [key, re, len] of [['sha256', SHA256_RE, 64], ['sha512', SHA512_RE, 128]] as const) {
      const v = archive[key];
      if (v === undefined) issues.add([...at, 'archive', key], `is required (${len} lowercase hex)`);
      else if (strict && !(typeof v === 'string' && re.test(v))) issues.add([...at, 'archive', key], `must be ${len} lowercase hex characters`);
    }
    if (strict && asset.image !== undefined) issues.add([...at, 'image'], 'must not be set on an Archive asset');
    if (strict && isStr(asset.name) && !isSafeRelPath(asset.name)) issues.add([...at, 'name'], 'must be a safe relative path (no "..", no leading "/")');
  }
}

/** The CRD schema, apiVersion and kind of either resource; false when it is not even an object. */
function envelope(kind: 'Release' | 'ReleaseChannel', obj: unknown, issues: Issues): obj is Record<string, unknown> {
  for (const v of crdViolations(kind, obj)) issues.add(v.path, v.message);
  if (!isObj(obj)) {
    if (issues.list.length === 0) issues.list.push({ path: '(document)', segments: [], message: 'must be an object' });
    return false;
  }
  if (obj.apiVersion !== API_VERSION) issues.add(['apiVersion'], `must be ${API_VERSION}`);
  if (obj.kind !== kind) issues.add(['kind'], `must be ${kind}, got ${JSON.stringify(obj.kind)}`);
  return true;
}

/** Every problem of a Release object, each with its JSON path; empty when valid. */
export function validateRelease(obj: unknown, options: ValidateOptions = {}): ValidationIssue[] {
  const strict = options.strict ?? true;
  const issues = new Issues();
  if (!envelope('Release', obj, issues)) return issues.list;
  const metadata = isObj(obj.metadata) ? obj.metadata : {};
  const spec = isObj(obj.spec) ? obj.spec : {};
  const status = isObj(obj.status) ? obj.status : {};
  if (!isStr(metadata.name)) issues.add(['metadata', 'name'], 'is required');
  if (!isStr(spec.channel)) issues.add(['spec', 'channel'], 'is required');
  if (spec.number === undefined) issues.add(['spec', 'number'], 'is required');
  if (!isStr(status.date)) issues.add(['status', 'date'], 'is required');
  const channel = typeof spec.channel === 'string' ? spec.channel : undefined;
  const number = typeof spec.number === 'number' ? spec.number : undefined;
  if (strict) {
    if (channel && !isChannel(channel)) issues.add(['spec', 'channel'], `must look like 1-33, got ${JSON.stringify(channel)}`);
    if (channel && number && isStr(metadata.name) && metadata.name !== releaseName(channel, number)) {
      issues.add(['metadata', 'name'], `must be ${releaseName(channel, number)} (from spec.channel and spec.number)`);
    }
    if (typeof status.date === 'string' && isRfc3339(status.date) && !/[Zz]$/.test(status.date)) issues.add(['status', 'date'], 'must be in UTC (end with Z)');
  }
  if (!Array.isArray(status.components)) {
    issues.add(['status', 'components'], 'is required (list of components)');
    return issues.list;
  }
  const components = status.components as unknown[];
  if (strict) checkSorted(components.map((c) => (isObj(c) ? c.name : undefined)), ['status', 'components'], 'component', issues);
  components.forEach((c, ci) => {
    const at = ['status', 'components', ci];
    if (!isObj(c)) return;
    if (!isStr(c.name)) issues.add([...at, 'name'], 'is required');
    if (!isStr(c.gitTag)) issues.add([...at, 'gitTag'], 'is required');
    if (!Array.isArray(c.assets)) {
      issues.add([...at, 'assets'], 'is required (list of assets)');
      return;
    }
    if (strict) checkSorted(c.assets.map((a) => (isObj(a) ? a.name : undefined)), [...at, 'assets'], 'asset', issues);
    c.assets.forEach((a, ai) => {
      if (isObj(a)) assetIssues(a, [...at, 'assets', ai], strict, { channel, number }, issues);
    });
  });
  return issues.list;
}

/** Every problem of a ReleaseChannel object; empty when valid. */
export function validateReleaseChannel(obj: unknown): ValidationIssue[] {
  const issues = new Issues();
  if (!envelope('ReleaseChannel', obj, issues)) return issues.list;
  const metadata = isObj(obj.metadata) ? obj.metadata : {};
  if (!isStr(metadata.name) || !isChannel(metadata.name)) issues.add(['metadata', 'name'], 'must be the channel, e.g. 1-33');
  const status = isObj(obj.status) ? obj.status : {};
  if (typeof status.active !== 'boolean') issues.add(['status', 'active'], 'is required (true or false)');
  return issues.list;
}

/** Thrown for an invalid Release/ReleaseChannel; `issues` holds every violation. */
export class ReleaseValidationError extends EksdError {
  readonly issues: ValidationIssue[];
  constructor(what: string, issues: ValidationIssue[], where: string, hint: string, locate?: (path: FieldPath) => string) {
    const lines = issues.map((i) => `  - ${i.path}: ${i.message}${locate ? ` (${locate(i.segments)})` : ''}`);
    super('RELEASE_INVALID', `${what} is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`, { where, hint });
    this.name = 'ReleaseValidationError';
    this.issues = issues;
  }
}

function describeRelease(obj: unknown): string {
  const name = isObj(obj) && isObj(obj.metadata) && typeof obj.metadata.name === 'string' ? obj.metadata.name : undefined;
  return name ? `Release ${name}` : 'Release';
}

export interface AssertOptions extends ValidateOptions {
  /** File or URL the object came from, for `where`. */
  source?: string;
  /** Maps a field path to `file:line:col` (a YamlSource's locate). */
  locate?: (path: FieldPath) => string;
}

export function assertValidRelease(obj: unknown, options: AssertOptions = {}): asserts obj is Release {
  const issues = validateRelease(obj, options);
  if (issues.length === 0) return;
  const first = issues[0]!;
  throw new ReleaseValidationError(describeRelease(obj), issues,
    options.locate ? options.locate(first.segments) : `${options.source ? `${options.source} ` : ''}${first.path}`,
    'fix the listed fields; a Release must match the CRD (crds/releases.distro.eks.amazonaws.com-v1alpha1.yaml) and carry tag-form image URIs with index digests and archive checksums',
    options.locate);
}

export function assertValidReleaseChannel(obj: unknown, options: Omit<AssertOptions, 'strict'> = {}): asserts obj is ReleaseChannel {
  const issues = validateReleaseChannel(obj);
  if (issues.length === 0) return;
  const first = issues[0]!;
  throw new ReleaseValidationError('ReleaseChannel', issues,
    options.locate ? options.locate(first.segments) : `${options.source ? `${options.source} ` : ''}${first.path}`,
    'fix the listed fields; a ReleaseChannel must match crds/releasechannels.distro.eks.amazonaws.com-v1alpha1.yaml',
    options.locate);
}
