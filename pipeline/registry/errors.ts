/**
 * Registry client errors: every failure is a RegistryError (an EksdError) naming registry, repository
 * and reference, typed from the registry's error body (error-body.ts), with a hint per error code and
 * what the retry logic needs (status, retryable, Retry-After).
 */
import { EksdError, type ErrorCode } from '../errors.ts';
import { entriesText, orderedCodes, parseErrorBody, parseErrorEntries, type RegistryBodyError } from './error-body.ts';
import { describeRef } from './reference.ts';

/** What a request was about: used to name registry, repository and reference in every error. */
export interface RequestContext {
  registry: string;
  repository: string;
  /** Tag or digest (or upload id); may be empty for repository-level calls such as tag listing. */
  reference?: string;
  /** Short verb phrase: "get manifest", "upload blob", "list tags". */
  operation: string;
}

/** An EksdError from the registry client, with what the retry logic needs to know. */
export class RegistryError extends EksdError {
  readonly status?: number;
  /** The code the error is typed by (`code` is REGISTRY_ and this). */
  readonly registryCode?: string;
  /** Every entry of the registry's error body, in its order. */
  readonly registryErrors?: readonly RegistryBodyError[];
  readonly retryable: boolean;
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, message: string, o: {
    where: string; hint: string; cause?: unknown; status?: number; registryCode?: string;
    registryErrors?: readonly RegistryBodyError[]; retryable?: boolean; retryAfterMs?: number;
  }) {
    super(code, message, { where: o.where, hint: o.hint, cause: o.cause });
    this.name = 'RegistryError';
    if (o.status !== undefined) this.status = o.status;
    if (o.registryCode !== undefined) this.registryCode = o.registryCode;
    if (o.registryErrors !== undefined) this.registryErrors = o.registryErrors;
    this.retryable = o.retryable ?? false;
    if (o.retryAfterMs !== undefined) this.retryAfterMs = o.retryAfterMs;
  }
}

const HINTS: Record<string, string> = {
  NAME_UNKNOWN: 'the repository does not exist: create it first (on ECR Public with ensureRepository) or check its name',
  NAME_INVALID: 'the repository name is not valid for this registry; check it against the OCI naming rules',
  MANIFEST_UNKNOWN: 'the tag or digest is not in this repository; check the reference or push it first',
  MANIFEST_BLOB_UNKNOWN: 'push every blob and child manifest the manifest refers to before pushing the manifest or index',
  MANIFEST_INVALID: 'the registry rejected the manifest (ECR needs a top-level mediaType and no annotations on the config descriptor)',
  MANIFEST_UNVERIFIED: 'the registry could not verify the manifest signature; push an unsigned schema 2 or OCI manifest',
  BLOB_UNKNOWN: 'the blob is not in this repository; push it or mount it from a repository that has it',
  BLOB_UPLOAD_UNKNOWN: 'the upload session expired or was lost; the upload is restarted on retry',
  BLOB_UPLOAD_INVALID: 'the registry rejected the upload; retry, and check the size and digest of the source',
  DIGEST_INVALID: 'the uploaded bytes do not match their digest; check the source content and retry',
  SIZE_INVALID: 'the uploaded size does not match the descriptor; check the source content',
  TAG_INVALID: 'the registry rejected the tag (immutable tag already set, or invalid characters)',
  UNAUTHORIZED: 'check the credentials: user/password, docker config.json auths entry, or the ECR Public token (us-east-1)',
  DENIED: 'the credentials are valid but lack permission for this repository and action',
  TOOMANYREQUESTS: 'the registry is rate limiting: lower the concurrency or retry later',
  UNSUPPORTED: 'the registry does not support this operation or manifest format',
  UNAVAILABLE: 'the registry is unavailable or failing; retry later or check its health',
  NOT_FOUND: 'the registry answered 404; check the registry address, repository and reference',
  NETWORK: 'the registry could not be reached; check that it runs, the address and the network path',
  TIMEOUT: 'the registry did not answer in time; raise timeoutMs or check the network path',
  INSECURE: 'use https, or a loopback registry, when credentials are needed',
  DIGEST_MISMATCH: 'the registry (or something in between) returned content that does not match its digest; retry, and check for a proxy altering responses',
};

const STATUS_CODES: Record<number, string> = {
  400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 403: 'DENIED', 404: 'NOT_FOUND', 405: 'UNSUPPORTED',
  408: 'TIMEOUT', 413: 'SIZE_INVALID', 416: 'RANGE_INVALID', 429: 'TOOMANYREQUESTS',
};

/** True for statuses worth retrying: 408, 429 and 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export function hintFor(code: string): string {
  return HINTS[code] ?? 'check the registry address, repository and reference; rerun with logging for details';
}

/** The entries' details that are digests. */
function digestsIn(entries: readonly RegistryBodyError[]): string[] {
  return [...new Set(entries.map((e) => e.detail).filter((d): d is string => d !== undefined && /^[a-z0-9]+:[a-f0-9]{32,}$/.test(d)))];
}

/** "sha256:ab…, sha256:cd… and 3 more", or `none` when there is no digest. */
function listDigests(digests: string[], none: string): string {
  if (digests.length === 0) return none;
  const shown = digests.slice(0, 3).join(', ');
  return digests.length > 3 ? `${shown} and ${digests.length - 3} more` : shown;
}

type EntryHint = (ctx: RequestContext, entries: readonly RegistryBodyError[], codes: readonly string[]) => string;

/** Hints that name what the entries name (digests) or that depend on the request and on the other codes. */
const ENTRY_HINTS: Record<string, EntryHint> = {
  MANIFEST_BLOB_UNKNOWN: (ctx, entries) => {
    const digests = digestsIn(entries);
    const probe = `/v2/${ctx.repository}/blobs/${digests.length === 1 ? digests[0] : '<digest>'}`;
    return `${ctx.repository} does not have ${listDigests(digests, 'a blob or child manifest')} that the manifest refers to (a layer, `
      + `the config, or for an index a child manifest): push or mount every blob and child manifest into ${ctx.repository} before `
      + `the manifest or index (HEAD ${probe} tells whether a blob is there), then push the manifest again`;
  },
  BLOB_UNKNOWN: (ctx, entries) => {
    const digests = digestsIn(entries);
    return `${digests.length ? `${listDigests(digests, '')} ${digests.length === 1 ? 'is' : 'are'}` : 'the blob is'} not in ${ctx.repository}: `
      + 'push it or mount it from a repository that has it';
  },
  DIGEST_INVALID: (ctx, _entries, codes) => {
    if (ctx.operation !== 'put manifest') return hintFor('DIGEST_INVALID');
    if (codes.includes('MANIFEST_BLOB_UNKNOWN')) {
      return `next to MANIFEST_BLOB_UNKNOWN this is no bad content: the registry could not read the link of that blob in ${ctx.repository}, `
        + `which another mount or upload of the same blob into ${ctx.repository} was rewriting while the manifest was checked; `
        + 'make sure nothing else pushes into the repository at the same time, then push the manifest again';
    }
    return 'the registry computed another digest for the manifest than the one it was pushed by: something between this client and the registry changed the bytes';
  },
};

/** The hint for the codes of an error body: one per code, each naming its code when there are several. */
function hintForEntries(ctx: RequestContext, entries: readonly RegistryBodyError[], codes: readonly string[]): string {
  const one = (code: string): string => ENTRY_HINTS[code]?.(ctx, entries.filter((e) => e.code === code), codes) ?? hintFor(code);
  return codes.length === 1 ? one(codes[0]!) : codes.map((c) => `${c}: ${one(c)}`).join('. ');
}

/**
 * A RegistryError for an unexpected HTTP answer, typed from the registry's error body when it has one.
 * Every code of the body is in the message and has its own hint.
 */
export function statusError(ctx: RequestContext, status: number, bodyText: string, retryAfterMs?: number): RegistryError {
  const entries = parseErrorEntries(bodyText);
  const codes = orderedCodes(entries);
  const code = codes[0] ?? STATUS_CODES[status] ?? (status >= 500 ? 'UNAVAILABLE' : `HTTP_${status}`);
  const where = describeRef(ctx.registry, ctx.repository, ctx.reference);
  const detail = entries.length > 0 ? entriesText(entries, codes) : parseErrorBody(bodyText).message ?? bodyText.trim().slice(0, 200);
  return new RegistryError(`REGISTRY_${code}`,
    `${ctx.operation} ${where} failed (HTTP ${status}${codes.length ? ` ${codes.join(', ')}` : ''})${detail ? `: ${detail}` : ''}`,
    {
      where, hint: entries.length > 0 ? hintForEntries(ctx, entries, codes) : hintFor(code), status, registryCode: code,
      retryable: isRetryableStatus(status),
      ...(entries.length > 0 ? { registryErrors: entries } : {}),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
}

/** A RegistryError for a failure below HTTP: connection reset, refused, timeout. */
export function transportError(ctx: RequestContext, cause: unknown): RegistryError {
  const timeout = isTimeout(cause);
  const code = timeout ? 'TIMEOUT' : 'NETWORK';
  const where = describeRef(ctx.registry, ctx.repository, ctx.reference);
  return new RegistryError(`REGISTRY_${code}`, `${ctx.operation} ${where} failed: ${describeCause(cause)}`, {
    where, hint: hintFor(code), cause, retryable: true,
  });
}

/** A RegistryError for content that does not hash to the digest it was fetched by. */
export function digestMismatchError(ctx: RequestContext, expected: string, actual: string): RegistryError {
  const where = describeRef(ctx.registry, ctx.repository, ctx.reference);
  return new RegistryError('REGISTRY_DIGEST_MISMATCH',
    `${ctx.operation} ${where}: content digest ${actual} does not match expected ${expected}`,
    { where, hint: hintFor('DIGEST_MISMATCH') });
}

/** A RegistryError for a condition the client itself detects (bad answer shape, refused insecure auth...). */
export function clientError(ctx: RequestContext, code: string, problem: string, hint?: string): RegistryError {
  const where = describeRef(ctx.registry, ctx.repository, ctx.reference);
  return new RegistryError(`REGISTRY_${code}`, `${ctx.operation} ${where}: ${problem}`, { where, hint: hint ?? hintFor(code) });
}

export function isTimeout(e: unknown): boolean {
  return e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError' && /timeout|timed out/i.test(String(e.message)));
}

/** "fetch failed: ECONNRESET (socket hang up)" from a fetch error and its causes. */
export function describeCause(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur instanceof Error; i++) {
    const code = (cur as { code?: unknown }).code;
    parts.push(typeof code === 'string' ? `${code}: ${cur.message}` : cur.message);
    cur = cur.cause;
  }
  return parts.length > 0 ? parts.join(' <- ') : String(e);
}
