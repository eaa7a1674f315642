/**
 * Artifacts: fetched by URL (https or file), verified against both pinned checksums before anything
 * else happens, cached by sha256, and unpacked once for the build contexts that stage them.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EksdError } from '../errors.ts';
import { extractTarGz } from '../util/tar.ts';
import { hashFile } from '../util/checksums.ts';
import type { ArtifactSpec } from '../catalog/model.ts';

export interface FetchedArtifact {
  spec: ArtifactSpec;
  /** Verified file in the cache. */
  path: string;
  /** For staged tarballs: the folder it was unpacked into. */
  extracted?: string;
}

export function artifactUrl(baseUrl: string, a: ArtifactSpec): string {
  return `${baseUrl.replace(/\/+$/, '')}/${a.project}/${a.gitTag}/${a.name}`;
}

/** Fetches and verifies every artifact; throws one error naming every mismatch, before any side effect. */
export async function fetchArtifacts(artifacts: ArtifactSpec[], baseUrl: string, cacheDir: string,
  progress: (line: string) => void = () => {}): Promise<FetchedArtifact[]> {
  const results = await Promise.allSettled(artifacts.map((a) => fetchOne(a, baseUrl, cacheDir, progress)));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    const lines = failures.map((f) => (f instanceof EksdError ? `${f.message}${f.where ? ` (${f.where})` : ''}` : String(f)));
    throw new EksdError('ARTIFACT_INVALID', `${failures.length} artifact(s) failed verification; nothing was built or pushed:\n  ${lines.join('\n  ')}`, {
      where: (failures[0] as EksdError).where,
      hint: 'fix the artifact source, or update sha256/sha512 in the component.yaml if the new file is intended',
    });
  }
  return results.map((r) => (r as PromiseFulfilledResult<FetchedArtifact>).value);
}

async function fetchOne(a: ArtifactSpec, baseUrl: string, cacheDir: string, progress: (l: string) => void): Promise<FetchedArtifact> {
  const cached = join(cacheDir, 'sha256', a.sha256);
  if (!existsSync(cached)) {
    const url = artifactUrl(baseUrl, a);
    progress(`fetching ${a.component}/${a.name}`);
    const tmp = `${cached}.${process.pid}.part`;
    await mkdir(join(cacheDir, 'sha256'), { recursive: true });
    await download(url, tmp, a);
    const sums = await hashFile(tmp);
    if (sums.sha256 !== a.sha256 || sums.sha512 !== a.sha512) {
      await rm(tmp, { force: true });
      const which = [sums.sha256 !== a.sha256 ? `sha256 ${sums.sha256}` : '', sums.sha512 !== a.sha512 ? `sha512 ${sums.sha512.slice(0, 16)}...` : ''].filter(Boolean).join(', ');
      throw new EksdError('ARTIFACT_CHECKSUM', `${a.component}/${a.name}: checksum mismatch, got ${which}`, { where: `${url} (pinned at ${a.where})` });
    }
    await rename(tmp, cached);
  }
  const fetched: FetchedArtifact = { spec: a, path: cached };
  if (a.stage && a.name.endsWith('.tar.gz')) fetched.extracted = await extractOnce(fetched, cacheDir);
  return fetched;
}

async function download(url: string, dest: string, a: ArtifactSpec): Promise<void> {
  try {
    if (url.startsWith('file:')) { await copyFile(fileURLToPath(url), dest); return; }
    const res = await fetch(url, { signal: AbortSignal.timeout(300_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    await writeFile(dest, Buffer.from(await res.arrayBuffer()));
  } catch (cause) {
    throw new EksdError('ARTIFACT_FETCH', `${a.component}/${a.name}: cannot fetch: ${(cause as Error).message}`, { where: url, cause });
  }
}

/** Unpacks a verified tarball into cache/extracted/<sha256>, checking it contains what the catalog says. */
async function extractOnce(f: FetchedArtifact, cacheDir: string): Promise<string> {
  const dir = join(cacheDir, 'extracted', f.spec.sha256);
  if (existsSync(join(dir, '.complete'))) return dir;
  await rm(dir, { recursive: true, force: true });
  const files = new Set((await extractTarGz(f.path, dir)).map((p) => p.replace(/^\.\//, '')));
  const missing = f.spec.contains.map((c) => c.replace(/^\.\//, '')).filter((c) => !files.has(c));
  if (missing.length > 0) {
    throw new EksdError('ARTIFACT_CONTENT', `${f.spec.component}/${f.spec.name} lacks ${missing.join(', ')}`, { where: f.spec.where });
  }
  await writeFile(join(dir, '.complete'), '');
  return dir;
}
