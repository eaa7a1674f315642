/**
 * Puts a release's archives on the site, write-once:
 *   kubernetes-<ch>/releases/<N>/artifacts/<project>/<gitTag>/<name>   (+ <name>.sha256, <name>.sha512)
 *   .../<project>/<gitTag>/SHA256SUM, SHA512SUM (+ .sha256 / .sha512 of both)
 * Every source is verified against the checksums the manifest will carry before anything is written.
 * All checks (sources exist and match, names safe) run before the first write; an object already there
 * with the same bytes is kept (re-runs write nothing), one with other bytes stops the release naming it.
 * Archives are hashed and copied as streams: memory stays bounded whatever their size.
 */
import { limiter } from '../util/limit.ts';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { EksdError, isEksdError } from '../errors.ts';
import { sumLine } from '../release/checksums.ts';
import { hashFile } from '../util/checksums.ts';
import { putOnce, type Body, type Store } from '../store/store.ts';
import { artifactsDir, assertChannel, assertNumber, assertSafeRelPath, assertSafeSegment } from '../release/naming.ts';
import type { ArchiveResult, ReleaseInput } from '../release/types.ts';
import { SHA256_RE, SHA512_RE } from '../release/validate.ts';

export interface StagedArchive {
  component: string;
  name: string;
  project: string;
  gitTag: string;
  /** where the object lives in the site store */
  file: string;
  /** key relative to the site root */
  sitePath: string;
  /** false when an identical object was already in place */
  copied: boolean;
}

export interface StageResult {
  archives: StagedArchive[];
  /** site-relative <project>/<gitTag> folders that received aggregate checksum files */
  folders: string[];
  /** site-relative objects written by this call (empty on an idempotent re-run) */
  written: string[];
}

export interface StageOptions {
  /** parallel uploads (default 4) */
  concurrency?: number;
}

const RESERVED = /(^|\/)(SHA256SUM|SHA512SUM)(\.sha256|\.sha512)?$|\.sha(256|512)$/;

interface Planned {
  component: string;
  archive: ArchiveResult;
  folder: string;
  sitePath: string;
  label: string;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, (e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return false;
    throw e;
  });
}

function checkArchive(a: ArchiveResult, where: string): void {
  assertSafeSegment(a.project, `${where}.project`, 'archive project');
  assertSafeSegment(a.gitTag, `${where}.gitTag`, 'archive gitTag');
  assertSafeRelPath(a.name, `${where}.name`, 'archive name');
  if (RESERVED.test(a.name)) {
    throw new EksdError('RELEASE_INPUT', `archive name "${a.name}" collides with a checksum file name`, {
      where: `${where}.name`, hint: 'checksum files (.sha256, .sha512, SHA256SUM, SHA512SUM) are generated; do not list them as archives',
    });
  }
  if (!SHA256_RE.test(a.sha256) || !SHA512_RE.test(a.sha512)) {
    throw new EksdError('RELEASE_INPUT', `archive ${a.name} has a malformed sha256/sha512`, {
      where: `${where}.sha256/sha512`, hint: 'checksums are lowercase hex: 64 characters for sha256, 128 for sha512',
    });
  }
}

/** `fn` over the items, at most `limit` at a time. */
async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const slot = limiter(Math.max(1, limit));
  await Promise.all(items.map((item) => slot(() => fn(item))));
}

async function plan(input: ReleaseInput): Promise<Planned[]> {
  const bySitePath = new Map<string, Planned>();
  for (const [ci, c] of input.components.entries()) {
    for (const [ai, a] of c.archives.entries()) {
      const where = `components[${ci}] (${c.name}).archives[${ai}]`;
      checkArchive(a, where);
      const folder = artifactsDir(input.channel, input.number, a.project, a.gitTag);
      const sitePath = `${folder}/${a.name}`;
      const seen = bySitePath.get(sitePath);
      if (seen) {
        if (seen.archive.sha256 === a.sha256 && seen.archive.sha512 === a.sha512) continue;
        throw new EksdError('RELEASE_INPUT', `two archives with different content both go to ${sitePath}`, {
          where: `${where} and ${seen.label}`, hint: 'give the archives distinct names, projects or gitTags',
        });
      }
      if (!(await exists(a.path))) {
        throw new EksdError('ARCHIVE_MISSING', `archive ${a.name} of ${c.name} not found at ${a.path}`, {
          where: `${where}.path`, hint: 'the artifacts stage must have fetched and verified this file; re-run it',
        });
      }
      bySitePath.set(sitePath, { component: c.name, archive: a, folder, sitePath, label: `${c.name}/${a.name}` });
    }
  }
  return [...bySitePath.values()];
}

/** The source still holds the bytes the manifest will name (it may have changed since it was fetched). */
async function assertSource(p: Planned): Promise<void> {
  const got = await hashFile(p.archive.path);
  for (const algo of ['sha256', 'sha512'] as const) {
    if (got[algo] !== p.archive[algo]) {
      throw new EksdError('ARCHIVE_CHECKSUM_MISMATCH', `${p.label}: ${algo} of ${p.archive.path} is ${got[algo]}, expected ${p.archive[algo]}`, {
        where: p.archive.path, hint: 'the file changed after it was verified; rebuild or re-fetch the artifact and run the release again',
      });
    }
  }
}

/** The objects of the checksum files: per archive, then per folder the aggregates and their own sums. */
function checksumObjects(planned: Planned[]): Map<string, string> {
  const out = new Map<string, string>();
  const folders = new Map<string, Planned[]>();
  for (const p of planned) {
    out.set(`${p.sitePath}.sha256`, sumLine(p.archive.sha256, p.archive.name));
    out.set(`${p.sitePath}.sha512`, sumLine(p.archive.sha512, p.archive.name));
    folders.set(p.folder, [...(folders.get(p.folder) ?? []), p]);
  }
  for (const [folder, items] of [...folders].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const sorted = [...items].sort((a, b) => (a.archive.name < b.archive.name ? -1 : 1));
    for (const [file, key] of [['SHA256SUM', 'sha256'], ['SHA512SUM', 'sha512']] as const) {
      const text = sorted.map((p) => sumLine(p.archive[key], p.archive.name)).join('');
      out.set(`${folder}/${file}`, text);
      out.set(`${folder}/${file}.sha256`, sumLine(createHash('sha256').update(text).digest('hex'), file));
      out.set(`${folder}/${file}.sha512`, sumLine(createHash('sha512').update(text).digest('hex'), file));
    }
  }
  return out;
}

/** Uploads, write-once, every archive of input and its checksum files to the site store. Idempotent. */
export async function stageArchives(store: Store, input: ReleaseInput, options: StageOptions = {}): Promise<StageResult> {
  assertChannel(input.channel, 'release input channel');
  assertNumber(input.number, 'release input number');
  const planned = await plan(input);
  await mapLimit(planned, options.concurrency ?? 4, assertSource);
  const written: string[] = [];
  const once = async (key: string, body: Body): Promise<boolean> => {
    try {
      const status = await putOnce(store, key, body);
      if (status === 'written') written.push(key);
      return status === 'written';
    } catch (e) {
      if (!isEksdError(e, 'STORE_OBJECT_EXISTS')) throw e;
      throw new EksdError('ARCHIVE_EXISTS', `release ${input.channel} #${input.number} already has ${key} with different content`, {
        where: store.where(key), hint: 'published objects are immutable; release the new artifacts under the next release number (--number)', cause: e,
      });
    }
  };
  const copied = new Set<string>();
  await mapLimit(planned, options.concurrency ?? 4, async (p) => {
    // An archive already there is compared by its digests, read as a stream: never held in memory.
    if (await once(p.sitePath, { file: p.archive.path })) copied.add(p.sitePath);
  });
  for (const [key, text] of checksumObjects(planned)) await once(key, text);
  return {
    archives: planned.map((p) => ({
      component: p.component, name: p.archive.name, project: p.archive.project, gitTag: p.archive.gitTag,
      file: store.where(p.sitePath), sitePath: p.sitePath, copied: copied.has(p.sitePath),
    })),
    folders: [...new Set(planned.map((p) => p.folder))].sort(),
    written: written.sort(),
  };
}
