import { EksdError } from '../errors.ts';

/** A parsed image reference: registry host, repository path and a tag and/or a digest. */
export interface ImageReference {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPOSITORY_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST_RE: Record<string, RegExp> = { sha256: /^[a-f0-9]{64}$/, sha512: /^[a-f0-9]{128}$/ };
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]{1,5})?$/;
const MAX_NAME = 255;

export const DEFAULT_REGISTRY = 'docker.io';

/** Why a repository name is invalid (OCI distribution rules), or undefined when it is valid. */
export function validateRepository(name: string): string | undefined {
  if (name.length === 0) return 'repository name is empty';
  if (name.length > MAX_NAME) return `repository name is longer than ${MAX_NAME} characters`;
  if (/[A-Z]/.test(name)) return `repository name "${name}" has upper-case letters; use lower case`;
  if (!REPOSITORY_RE.test(name)) {
    return `repository name "${name}" is invalid: path components are [a-z0-9] separated by ".", "_", "__" or "-", joined by "/"`;
  }
  return undefined;
}

/** Why a tag is invalid (OCI rules, plus no "+" since ECR rejects it), or undefined when it is valid. */
export function validateTag(tag: string): string | undefined {
  if (tag.length === 0) return 'tag is empty';
  if (tag.includes('+')) return `tag "${tag}" contains "+", which ECR rejects; use "-" or "_" instead`;
  if (tag.length > 128) return `tag "${tag.slice(0, 40)}..." is longer than 128 characters`;
  if (!TAG_RE.test(tag)) return `tag "${tag}" is invalid: use [A-Za-z0-9_.-], not starting with "." or "-"`;
  return undefined;
}

/** Why a digest is invalid, or undefined when it is a well-formed sha256/sha512 digest. */
export function validateDigest(digest: string): string | undefined {
  const [alg, hex, ...rest] = digest.split(':');
  const re = alg === undefined ? undefined : DIGEST_RE[alg];
  if (rest.length > 0 || hex === undefined || re === undefined) {
    return `digest "${digest}" is invalid: expected sha256:<64 hex> or sha512:<128 hex>`;
  }
  return re.test(hex) ? undefined : `digest "${digest}" is invalid: wrong length or not lower-case hex`;
}

/** Why a registry host ("host", "host:port", "[::1]:port") is invalid, or undefined. */
export function validateRegistry(host: string): string | undefined {
  return HOST_RE.test(host) ? undefined : `registry "${host}" is not a host name with an optional port`;
}

/** True when the reference points at a digest rather than a tag. */
export function isDigest(ref: string): boolean {
  return validateDigest(ref) === undefined;
}

/** Why a tag-or-digest reference is invalid, or undefined. */
export function validateRef(ref: string): string | undefined {
  return ref.includes(':') ? validateDigest(ref) : validateTag(ref);
}

function fail(text: string, problem: string): never {
  throw new EksdError('REFERENCE_INVALID', `invalid image reference "${text}": ${problem}`, {
    where: text,
    hint: 'write references as <registry>/<repository>:<tag> or <registry>/<repository>@sha256:<hex>',
  });
}

function splitRegistry(name: string): [string, string] {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const isHost = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['));
  if (isHost) return [first, name.slice(slash + 1)];
  return [DEFAULT_REGISTRY, name.includes('/') ? name : `library/${name}`];
}

/**
 * Parses "127.0.0.1:5000/eks-distro/etcd-io/etcd:v3.5.21", "host/repo@sha256:...", "host/repo:tag@sha256:...".
 * A name without a registry host means Docker Hub (docker.io, with "library/" for one-component names).
 */
export function parseReference(text: string): ImageReference {
  const at = text.indexOf('@');
  const digest = at < 0 ? undefined : text.slice(at + 1);
  const rest = at < 0 ? text : text.slice(0, at);
  const colon = rest.lastIndexOf(':');
  const hasTag = colon > rest.lastIndexOf('/');
  const tag = hasTag ? rest.slice(colon + 1) : undefined;
  const [registry, repository] = splitRegistry(hasTag ? rest.slice(0, colon) : rest);
  const problem = validateRegistry(registry) ?? validateRepository(repository)
    ?? (tag === undefined ? undefined : validateTag(tag))
    ?? (digest === undefined ? undefined : validateDigest(digest));
  if (problem) fail(text, problem);
  if (tag === undefined && digest === undefined) fail(text, 'it has neither a tag nor a digest');
  return { registry, repository, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** Registry, repository and tag of a tag-form reference ("host/repo:tag"); undefined for anything else. */
export function parseTagReference(text: string): { registry: string; repository: string; tag: string } | undefined {
  try {
    const ref = parseReference(text);
    return ref.tag !== undefined && ref.digest === undefined ? { registry: ref.registry, repository: ref.repository, tag: ref.tag } : undefined;
  } catch {
    return undefined;
  }
}

/** Formats a reference back to text: registry/repository[:tag][@digest]. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** "registry/repository:ref" or "registry/repository@digest", for messages. */
export function describeRef(registry: string, repository: string, ref?: string): string {
  if (ref === undefined || ref === '') return `${registry}/${repository}`;
  return `${registry}/${repository}${ref.includes(':') ? '@' : ':'}${ref}`;
}
