import { EksdError } from '../errors.ts';
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
  readonly registryCode?: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;

  constructor(code: string, message: string, o: {
    where: string; hint: string; cause?: unknown; status?: number; registryCode?: string;
    retryable?: boolean; retryAfterMs?: number;
  }) {
    super(code, message, { where: o.where, hint: o.hint, cause: o.cause });
    this.name = 'RegistryError';
    if (o.status !== undefined) this.status = o.status;
    if (o.registryCode !== undefined) this.registryCode = o.registryCode;
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

interface BodyError { code?: unknown; message?: unknown; detail?: unknown }

/** The first {code, message} of a distribution error body, if the body is one. */
export function parseErrorBody(text: string): { code?: string; message?: string } {
  try {
    const parsed = JSON.parse(text) as { errors?: BodyError[] };
    const first = Array.isArray(parsed.errors) ? parsed.errors[0] : undefined;
    const code = typeof first?.code === 'string' && /^[A-Z_]+$/.test(first.code) ? first.code : undefined;
    const message = typeof first?.message === 'string' ? first.message : undefined;
    return { ...(code ? { code } : {}), ...(message ? { message } : {}) };
  } catch {
    return {};
  }
}

/** A RegistryError for an unexpected HTTP answer, typed from the registry's error body when it has one. */
export function statusError(ctx: RequestContext, status: number, bodyText: string, retryAfterMs?: number): RegistryError {
  const body = parseErrorBody(bodyText);
  const code = body.code ?? STATUS_CODES[status] ?? (status >= 500 ? 'UNAVAILABLE' : `HTTP_${status}`);
  const where = describeRef(ctx.registry, ctx.repository, ctx.reference);
  const detail = body.message ?? bodyText.trim().slice(0, 200);
  return new RegistryError(`REGISTRY_${code}`,
    `${ctx.operation} ${where} failed (HTTP ${status}${body.code ? ` ${body.code}` : ''})${detail ? `: ${detail}` : ''}`,
    {
      where, hint: hintFor(code), status, registryCode: code, retryable: isRetryableStatus(status),
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
