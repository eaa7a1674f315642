/**
 * Artifacts: fetched by URL (https or file), verified against both pinned checksums before anything
 * else happens, cached by sha256, and unpacked once for the build contexts that stage them.
 * Downloads retry network errors, 408, 429 and 5xx with backoff (honouring Retry-After), and an
 * attempt that receives no byte for a while is abandoned. The cache may be shared by concurrent runs:
 * files and extracted folders are made under temporary names and renamed into place complete.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { copyFile, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { EksdError } from '../errors.ts';
import { makeDir } from '../util/fs-atomic.ts';
import { extractTarGz } from '../util/tar.ts';
import { hasher, hashFile, type Digests } from '../util/checksums.ts';
import { diskErrorOf, writeFailure, writing } from '../util/fs-errors.ts';
import type { ArtifactSpec } from '../catalog/model.ts';
import { artifactSource, type ArtifactSource } from './artifact-source.ts';

export interface FetchedArtifact {
  spec: ArtifactSpec;
  /** Verified file in the cache. */
  path: string;
  /** For staged tarballs: the folder it was unpacked into. */
  extracted?: string;
}

export interface FetchOptions {
  /** Attempts per artifact when the failure may pass (network error, 408, 429, 5xx, no progress); default 5. */
  attempts?: number;
  /** Wait before the second attempt, doubled for each further one; default 1 s. */
  backoffMs?: number;
  /** Longest wait between attempts, Retry-After included; default 30 s. */
  maxDelayMs?: number;
  /** An attempt that receives no byte (headers or body) for this long fails; default 60 s. */
  stallMs?: number;
}

const DEFAULTS: Required<FetchOptions> = { attempts: 5, backoffMs: 1000, maxDelayMs: 30_000, stallMs: 60_000 };

/** Marks a completely extracted folder. */
const COMPLETE = '.complete';

export function artifactUrl(baseUrl: string, a: ArtifactSpec): string {
  return `${baseUrl.replace(/\/+$/, '')}/${a.project}/${a.gitTag}/${a.name}`;
}

/** Fetches and verifies every artifact; throws one error naming every mismatch, before any side effect. */
export async function fetchArtifacts(artifacts: ArtifactSpec[], baseUrl: string, cacheDir: string,
  progress: (line: string) => void = () => {}, options: FetchOptions = {}): Promise<FetchedArtifact[]> {
  const o = { ...DEFAULTS, ...options };
  const source = artifactSource(baseUrl);
  const results = await Promise.allSettled(artifacts.map((a) => fetchOne(a, source, cacheDir, progress, o)));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  // A full or unwritable cache is not a problem of the artifacts: report it as what it is.
  const disk = failures.find((f) => f instanceof EksdError && f.code.startsWith('FS_'));
  if (disk) throw disk;
  if (failures.length > 0) {
    const lines = failures.map((f) => (f instanceof EksdError ? `${f.message}${f.where ? ` (${f.where})` : ''}` : String(f)));
    throw new EksdError('ARTIFACT_INVALID', `${failures.length} artifact(s) failed verification; nothing was built or pushed:\n  ${lines.join('\n  ')}`, {
      where: (failures[0] as EksdError).where,
      hint: 'fix the artifact source, or update sha256/sha512 in the component.yaml if the new file is intended',
    });
  }
  return results.map((r) => (r as PromiseFulfilledResult<FetchedArtifact>).value);
}

async function fetchOne(a: ArtifactSpec, source: ArtifactSource, cacheDir: string, progress: (l: string) => void, o: Required<FetchOptions>): Promise<FetchedArtifact> {
  const cached = join(cacheDir, 'sha256', a.sha256);
  if (!existsSync(cached)) {
    const url = artifactUrl(source.baseUrl, a);
    progress(`fetching ${a.component}/${a.name}`);
    await writing(join(cacheDir, 'sha256'), () => makeDir(join(cacheDir, 'sha256')));
    const tmp = `${cached}.${process.pid}.${randomBytes(4).toString('hex')}.part`;
    try {
      const sums = await writing(cached, () => download({ url, headers: source.headers }, tmp, a, progress, o));
      if (sums.sha256 !== a.sha256 || sums.sha512 !== a.sha512) {
        const which = [sums.sha256 !== a.sha256 ? `sha256 ${sums.sha256}` : '', sums.sha512 !== a.sha512 ? `sha512 ${sums.sha512.slice(0, 16)}...` : ''].filter(Boolean).join(', ');
        throw new EksdError('ARTIFACT_CHECKSUM', `${a.component}/${a.name}: checksum mismatch, got ${which}`, { where: `${url} (pinned at ${a.where})` });
      }
      await writing(cached, () => rename(tmp, cached));
    } finally {
      await rm(tmp, { force: true });
    }
  }
  const fetched: FetchedArtifact = { spec: a, path: cached };
  if (a.stage && a.name.endsWith('.tar.gz')) fetched.extracted = await extractOnce(fetched, cacheDir);
  return fetched;
}

/** Why one attempt failed, and whether another may succeed. */
interface Failure { reason: string; retry: boolean; retryAfterMs?: number }

/** Downloads to dest and returns both digests of what was written, hashed on the way in (one pass, bounded memory). */
async function download({ url, headers }: { url: string; headers: Record<string, string> }, dest: string, a: ArtifactSpec,
  progress: (l: string) => void, o: Required<FetchOptions>): Promise<Digests> {
  const fail = (reason: string, cause?: unknown): never => {
    throw new EksdError('ARTIFACT_FETCH', `${a.component}/${a.name}: cannot fetch: ${reason}`, { where: url, ...(cause ? { cause } : {}) });
  };
  if (url.startsWith('file:')) {
    try {
      await copyFile(fileURLToPath(url), dest);
      return await hashFile(dest);
    } catch (cause) {
      if (diskErrorOf(cause)) throw cause;
      fail((cause as Error).message, cause);
    }
  }
  for (let attempt = 1; ; attempt++) {
    const failure = await attemptDownload(url, headers, dest, o.stallMs);
    if ('sha256' in failure) return failure;
    if (!failure.retry) fail(failure.reason);
    if (attempt >= o.attempts) fail(`${failure.reason} (after ${attempt} attempts)`);
    const wait = Math.min(o.maxDelayMs, failure.retryAfterMs ?? o.backoffMs * 2 ** (attempt - 1));
    progress(`retrying ${a.component}/${a.name} in ${(wait / 1000).toFixed(1)}s (attempt ${attempt + 1} of ${o.attempts}): ${failure.reason}`);
    await new Promise((r) => setTimeout(r, wait));
  }
}

/** One GET streamed to dest; its digests when it completed. Local write failures are thrown as they are, not retried. */
async function attemptDownload(url: string, headers: Record<string, string>, dest: string, stallMs: number): Promise<Failure | Digests> {
  const abort = new AbortController();
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const progressed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { stalled = true; abort.abort(); }, stallMs);
  };
  progressed();
  try {
    const res = await fetch(url, { headers, signal: abort.signal });
    progressed();
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      return { reason: `HTTP ${res.status}${refusal(res.status, headers)}`, retry: retryableStatus(res.status), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
    if (!res.body) return { reason: 'empty response', retry: true };
    const tick = new Transform({ transform(chunk, _enc, done) { progressed(); done(null, chunk); } });
    const sums = hasher();
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), tick, sums.stream, createWriteStream(dest));
    return sums.result();
  } catch (e) {
    if (diskErrorOf(e)) throw e;
    if (stalled) return { reason: `no data received for ${stallMs / 1000}s`, retry: true };
    return { reason: networkReason(e), retry: true };
  } finally {
    clearTimeout(timer);
  }
}

/** What a 401 or 403 means for the credentials of artifacts.baseUrl. */
function refusal(status: number, headers: Record<string, string>): string {
  if (status !== 401 && status !== 403) return '';
  return headers.authorization ? ' (the user and password of artifacts.baseUrl were refused: check them)'
    : ' (the source wants credentials: give them in artifacts.baseUrl as https://user:password@host/...)';
}

function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** "fetch failed" says nothing; its cause (ECONNREFUSED, ECONNRESET, ...) does. */
function networkReason(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return [(e as Error).message, cause?.code ?? cause?.message].filter(Boolean).join(': ');
}

/**
 * Unpacks a verified tarball into cache/extracted/<sha256>, checking it contains what the catalog says.
 * The folder is filled under a temporary name and renamed into place whole, so a concurrent run sees it
 * either complete or not at all.
 */
async function extractOnce(f: FetchedArtifact, cacheDir: string): Promise<string> {
  const root = join(cacheDir, 'extracted');
  const dir = join(root, f.spec.sha256);
  if (existsSync(join(dir, COMPLETE))) return dir;
  const tmp = join(root, `.${f.spec.sha256}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writing(tmp, async () => {
      await makeDir(root);
      const files = new Set((await extractTarGz(f.path, tmp)).map((p) => p.replace(/^\.\//, '')));
      const missing = f.spec.contains.map((c) => c.replace(/^\.\//, '')).filter((c) => !files.has(c));
      if (missing.length > 0) {
        throw new EksdError('ARTIFACT_CONTENT', `${f.spec.component}/${f.spec.name} lacks ${missing.join(', ')}`, { where: f.spec.where });
      }
      await writeFile(join(tmp, COMPLETE), '');
    });
    await place(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** Renames a complete folder to dir; a complete one already there (another run's) is kept instead. */
async function place(tmp: string, dir: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await rename(tmp, dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw writeFailure(e, dir) ?? e;
    }
    if (existsSync(join(dir, COMPLETE))) return;
    // A folder without the marker was left half-written by an older cache layout: set it aside, retry.
    const stale = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
    if (await rename(dir, stale).then(() => true, () => false)) await rm(stale, { recursive: true, force: true });
  }
  throw new EksdError('ARTIFACT_CACHE', `cannot move the extracted artifact into ${dir}`, { where: dir, hint: 'remove that folder and run again' });
}
