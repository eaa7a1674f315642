/**
 * Every failure the tool reports is an EksdError: a stable code, what failed, where (file, field,
 * image, registry) and a hint saying what to do. The CLI prints `message`, `where` and `hint` and
 * exits non-zero; nothing else about error display lives anywhere else.
 */
/**
 * What an error means for the exit code: bad input (the catalog, the configuration, flags, the pin), a
 * failed verification, a channel busy with another run, a run stopped by SIGTERM or SIGINT, or any other failure.
 */
export type ErrorKind = 'input' | 'verify' | 'busy' | 'interrupted' | 'failure';

/** Every code the tool reports, and its kind. A registry's own codes arrive as REGISTRY_<code>: failures. */
export const ERROR_KINDS = {
  ANNOUNCE_CONFIG: 'failure',
  ANNOUNCE_FAILED: 'failure',
  ANNOUNCE_INTERRUPTED: 'failure',
  ANNOUNCE_LEDGER: 'failure',
  ANNOUNCE_LOCKED: 'failure',
  ANNOUNCE_NOT_INTERRUPTED: 'failure',
  ANNOUNCE_TOO_LARGE: 'failure',
  ANNOUNCE_UNCERTAIN: 'failure',
  ARCHIVE_CHECKSUM_MISMATCH: 'failure',
  ARCHIVE_EXISTS: 'failure',
  ARCHIVE_MISSING: 'failure',
  ARTIFACT_CACHE: 'failure',
  ATTEST_CI_CONTEXT: 'input',
  ATTEST_INPUT: 'failure',
  ATTEST_LAYER_UNREADABLE: 'failure',
  ATTEST_LAYER_UNSUPPORTED: 'failure',
  ARTIFACT_CHECKSUM: 'failure',
  ARTIFACT_CONTENT: 'failure',
  ARTIFACT_FETCH: 'failure',
  ARTIFACT_INVALID: 'failure',
  BUILD_FAILED: 'failure',
  BUILD_PARENT_PROXY: 'failure',
  BUILD_SESSION: 'failure',
  CATALOG_INVALID: 'input',
  CHANNEL_PARSE: 'failure',
  CHANNEL_REGRESSION: 'failure',
  CONFIG_INVALID: 'input',
  CONFIG_PROFILE_UNKNOWN: 'input',
  CRD_INVALID: 'failure',
  CRD_MISSING: 'failure',
  ECR_ACCESS_DENIED: 'failure',
  ECR_CREDENTIALS_EXPIRED: 'failure',
  ECR_CREDENTIALS_INVALID: 'failure',
  ECR_CREDENTIALS_MISSING: 'failure',
  ECR_ERROR: 'failure',
  ECR_INVALID_PARAMETER: 'failure',
  ECR_LIMIT_EXCEEDED: 'failure',
  ECR_REGISTRY_NOT_FOUND: 'failure',
  ECR_REPOSITORY_EXISTS: 'failure',
  ECR_REPOSITORY_NOT_FOUND: 'failure',
  ECR_SERVER_ERROR: 'failure',
  ECR_THROTTLED: 'failure',
  ECR_TOKEN_INVALID: 'failure',
  ECR_UNSUPPORTED_COMMAND: 'failure',
  ENV_BINFMT: 'failure',
  ENV_PACKAGES_MISSING: 'failure',
  ENV_STANDIN: 'failure',
  ENV_START_FAILED: 'failure',
  FILE_CORRUPT: 'failure',
  FILE_UNREADABLE: 'input',
  INTERNAL: 'failure',
  RELEASE_CHANNEL_FAILED: 'failure',
  FS_NOT_WRITABLE: 'failure',
  FS_NO_SPACE: 'failure',
  LEASE_LOST: 'failure',
  LEASE_RELEASE_FAILED: 'failure',
  LEASE_UNREADABLE: 'failure',
  LOCK_CONTENDED: 'failure',
  LOCK_TIMEOUT: 'failure',
  OUTPUT_INVALID: 'failure',
  PARENT_PLATFORM_MISSING: 'failure',
  PIN_INVALID: 'input',
  PIN_MISSING: 'input',
  PIN_NOT_FOUND: 'input',
  PIN_PLATFORM_MISMATCH: 'input',
  PIN_UNRESOLVED: 'input',
  REFERENCE_INVALID: 'failure',
  REFERRERS_LOST: 'failure',
  RELEASE_EXISTS: 'failure',
  RELEASE_INPUT: 'failure',
  RELEASE_INVALID: 'failure',
  RELEASE_NOT_FOUND: 'failure',
  RELEASE_NOT_SERVED: 'verify',
  RELEASE_NUMBER_USED: 'input',
  RELEASE_PARSE: 'failure',
  REPUBLISH_DIGEST: 'failure',
  REPUBLISH_INPUT: 'failure',
  REPUBLISH_SOURCE_MISSING: 'failure',
  RUN_INPUTS_CHANGED: 'failure',
  RUN_INTERRUPTED: 'interrupted',
  RUN_JOURNAL_CORRUPT: 'failure',
  RUN_LOCKED: 'busy',
  RUN_UNFINISHED: 'failure',
  SCHEMA_INVALID: 'input',
  SIGNATURE_INVALID: 'verify',
  SIGNING_KEY_INVALID: 'input',
  SIGN_FAILED: 'failure',
  SITE_FETCH_FAILED: 'failure',
  SITE_IMAGE_INDEX: 'failure',
  SITE_READ: 'failure',
  SITE_SERVE: 'failure',
  SPLIT_INCOMPLETE: 'failure',
  SPLIT_PLAN_MISMATCH: 'failure',
  STORE_ACCESS_DENIED: 'failure',
  STORE_FAILED: 'failure',
  STORE_KEY_INVALID: 'failure',
  STORE_OBJECT_EXISTS: 'failure',
  STORE_CONDITIONS_IGNORED: 'failure',
  STORE_CONFLICT: 'failure',
  STORE_PRECONDITION: 'failure',
  STORE_STATE_IN_SITE: 'failure',
  STORE_TIMEOUT: 'failure',
  TAG_CONFLICT: 'failure',
  TRUSTED_ROOT_INVALID: 'input',
  USAGE: 'input',
  VERIFY_FAILED: 'verify',
  YAML_SYNTAX: 'input',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_KINDS | `REGISTRY_${string}`;

export function errorKind(code: ErrorCode): ErrorKind {
  return (ERROR_KINDS as Record<string, ErrorKind>)[code] ?? 'failure';
}

export interface ErrorDetails {
  /** Where the problem is: "images/etcd/component.yaml:12:5 images[0].from", "127.0.0.1:5000/eks-distro/etcd-io/etcd:v3.5.21". */
  where?: string;
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
}

export class EksdError extends Error {
  readonly code: ErrorCode;
  readonly where?: string;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(redact(message), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'EksdError';
    this.code = code;
    if (details.where !== undefined) this.where = redact(details.where);
    if (details.hint !== undefined) this.hint = redact(details.hint);
  }

  /** One line for humans: "CODE: message (at where)". The hint goes on its own line. */
  describe(): string {
    const at = this.where ? ` (at ${this.where})` : '';
    return `${this.code}: ${this.message}${at}${this.hint ? `\n  hint: ${this.hint}` : ''}`;
  }
}

export function isEksdError(e: unknown, code?: ErrorCode): e is EksdError {
  return e instanceof EksdError && (code === undefined || e.code === code);
}

const secrets = new Set<string>();

/** A state the code itself should never reach (a stage list out of order, a decision missing its inputs). */
export function bug(message: string, hint = 'this is a bug'): never {
  throw new EksdError('INTERNAL', message, { hint });
}

/** Registers a secret (token, password) so that redact() removes it from every message and log line. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) secrets.add(value);
}

/** Each pattern keeps its first group (and an auth scheme) and replaces the credential after it with ***. */
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/(authorization:\s*)(basic|bearer)\s+[^\s"',]+/gi, '$1$2 ***'],
  [/(\b(?:token|access_token|password|secret|X-Amz-Signature|X-Amz-Security-Token)["']?\s*[=:]\s*["']?)[^\s"'&,}]+/gi, '$1***'],
  // URL userinfo: https://user:pass@host/... -> https://***@host/...
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>]+@/gi, '$1***@'],
];

/** Removes registered secrets and anything shaped like a credential from a string. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
