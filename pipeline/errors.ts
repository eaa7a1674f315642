/**
 * Every failure the tool reports is an EksdError: a stable code, what failed, where (file, field,
 * image, registry) and a hint saying what to do. The CLI prints `message`, `where` and `hint` and
 * exits non-zero; nothing else about error display lives anywhere else.
 */
export interface ErrorDetails {
  /** Where the problem is: "images/etcd/component.yaml:12:5 images[0].from", "127.0.0.1:5000/eks-distro/etcd-io/etcd:v3.5.21". */
  where?: string;
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
}

export class EksdError extends Error {
  readonly code: string;
  readonly where?: string;
  readonly hint?: string;

  constructor(code: string, message: string, details: ErrorDetails = {}) {
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

export function isEksdError(e: unknown, code?: string): e is EksdError {
  return e instanceof EksdError && (code === undefined || e.code === code);
}

const secrets = new Set<string>();

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
