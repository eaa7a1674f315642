/**
 * The error body of a distribution registry, `{"errors":[{"code","message","detail"}, ...]}`, read as
 * sent: its entries with their codes, the code an error is typed by, and the entries as message text.
 */

/** One entry of the body. */
export interface RegistryBodyError {
  code: string;
  message?: string;
  /** The detail as text: a digest or a name as it came, anything else as compact JSON. */
  detail?: string;
}

interface BodyError { code?: unknown; message?: unknown; detail?: unknown }

const CODE = /^[A-Z_]+$/;
/** Entries listed in a message; the rest are counted. */
const LISTED = 6;

/** The entries of a distribution error body, as sent; [] when the body is not one. */
function bodyEntries(text: string): BodyError[] {
  try {
    const parsed = JSON.parse(text) as { errors?: unknown } | null;
    const errors = parsed?.errors;
    return Array.isArray(errors) ? errors.filter((e): e is BodyError => typeof e === 'object' && e !== null) : [];
  } catch {
    return [];
  }
}

function detailText(detail: unknown): string | undefined {
  if (detail === undefined || detail === null || detail === '') return undefined;
  const text = typeof detail === 'string' ? detail : JSON.stringify(detail);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** The first {code, message} of a distribution error body, if the body is one. */
export function parseErrorBody(text: string): { code?: string; message?: string } {
  const first = bodyEntries(text)[0];
  const code = typeof first?.code === 'string' && CODE.test(first.code) ? first.code : undefined;
  const message = typeof first?.message === 'string' ? first.message : undefined;
  return { ...(code ? { code } : {}), ...(message ? { message } : {}) };
}

/** Every entry of a distribution error body that has a code, in the body's order, repeats dropped. */
export function parseErrorEntries(text: string): RegistryBodyError[] {
  const out: RegistryBodyError[] = [];
  const seen = new Set<string>();
  for (const e of bodyEntries(text)) {
    if (typeof e.code !== 'string' || !CODE.test(e.code)) continue;
    const detail = detailText(e.detail);
    const entry: RegistryBodyError = { code: e.code, ...(typeof e.message === 'string' && e.message ? { message: e.message } : {}), ...(detail ? { detail } : {}) };
    const key = JSON.stringify(entry);
    if (!seen.has(key)) { seen.add(key); out.push(entry); }
  }
  return out;
}

/**
 * Codes distribution sends next to the one that says what is wrong. A manifest PUT that finds a blob's
 * link in the repository unreadable (another push of that blob rewriting it) answers DIGEST_INVALID and
 * then MANIFEST_BLOB_UNKNOWN naming the blob: the error is typed by the second.
 */
const ACCOMPANYING = new Set(['DIGEST_INVALID', 'UNKNOWN']);

/** The codes of the entries, the one the error is typed by first, each once. */
export function orderedCodes(entries: readonly RegistryBodyError[]): string[] {
  const codes = [...new Set(entries.map((e) => e.code))];
  const lead = codes.find((c) => !ACCOMPANYING.has(c)) ?? codes[0];
  return lead === undefined ? [] : [lead, ...codes.filter((c) => c !== lead)];
}

/** "blob unknown to registry: sha256:…", or for several entries each with its code, the first few listed. */
export function entriesText(entries: readonly RegistryBodyError[], codes: readonly string[]): string {
  const text = (e: RegistryBodyError): string => [e.message, e.detail].filter(Boolean).join(': ');
  if (entries.length === 1) return text(entries[0]!);
  const ordered = codes.flatMap((c) => entries.filter((e) => e.code === c));
  const listed = ordered.slice(0, LISTED).map((e) => `${e.code} ${text(e)}`.trim());
  return `${listed.join('; ')}${ordered.length > LISTED ? `; and ${ordered.length - LISTED} more` : ''}`;
}
