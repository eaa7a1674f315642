/**
 * GitHub Actions files: step outputs ($GITHUB_OUTPUT, `key=value` lines) and the step summary
 * ($GITHUB_STEP_SUMMARY, Markdown). Values often come from a registry or a service; each is checked
 * before anything is appended (a digest is exactly sha256:<64 hex>, nothing holds a line break), so a
 * value can never add a line of its own, and everything appended goes through redact().
 */
import { appendFileSync } from 'node:fs';
import { EksdError, redact } from '../errors.ts';
import { writeFailure } from './fs-errors.ts';

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const KEY = /^[A-Za-z0-9_-]+$/;

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

/** `value` if it is a sha256 digest, else OUTPUT_INVALID naming `what`. */
export function checkedDigest(value: string, what: string): string {
  if (isDigest(value)) return value;
  throw invalid(what, value, 'is not a sha256 digest (sha256:<64 lowercase hex>)');
}

/** `value` if it holds no line break (or other control character), else OUTPUT_INVALID naming `what`. */
export function singleLine(value: string, what: string): string {
  if (!/[\u0000-\u001f\u007f\u2028\u2029]/.test(value)) return value;
  throw invalid(what, value, 'contains a line break or control character');
}

function invalid(what: string, value: string, why: string): EksdError {
  return new EksdError('OUTPUT_INVALID', `${what} ${JSON.stringify(value).slice(0, 120)} ${why}; nothing was written to the GitHub Actions files`, {
    where: what, hint: 'the value came from a registry or service answer that is malformed; check what serves it',
  });
}

/**
 * Appends step outputs; keys named in `digests` must hold digests. All values are checked first, so an
 * invalid one leaves the file untouched. Without a file (not in Actions) nothing happens.
 */
export function appendGithubOutput(values: Record<string, string>, options: { digests?: string[]; file?: string } = {}): void {
  const file = options.file ?? process.env.GITHUB_OUTPUT;
  const lines = Object.entries(values).map(([key, value]) => {
    if (!KEY.test(key)) throw invalid('GITHUB_OUTPUT key', key, 'is not a plain output name');
    const v = options.digests?.includes(key) ? checkedDigest(value, `GITHUB_OUTPUT ${key}`) : singleLine(value, `GITHUB_OUTPUT ${key}`);
    return `${key}=${redact(v)}`;
  });
  if (file) append(file, `${lines.join('\n')}\n`);
}

/** Appends Markdown to the step summary; the caller has checked the values it interpolated. */
export function appendStepSummary(markdown: string, file: string | undefined = process.env.GITHUB_STEP_SUMMARY): void {
  if (file) append(file, redact(markdown));
}

function append(file: string, text: string): void {
  try {
    appendFileSync(file, text);
  } catch (e) {
    throw writeFailure(e, file) ?? e;
  }
}
