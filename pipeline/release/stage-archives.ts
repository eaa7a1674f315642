/**
 * Puts a release's archives on the site (eksd-facts §2.5, §2.6):
 *   kubernetes-<ch>/releases/<N>/artifacts/<project>/<gitTag>/<name>   (+ <name>.sha256, <name>.sha512)
 *   .../<project>/<gitTag>/SHA256SUM, SHA512SUM (+ .sha256 / .sha512 of both)
 * Every copy is verified against the checksums the manifest will carry. All checks (sources exist,
 * names safe, no conflict with an already published release) run before the first write; re-runs with
 * the same input write nothing.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EksdError } from '../errors.ts';
import { copyVerified, sumLine } from './checksums.ts';
import { hashFile } from '../util/checksums.ts';
import { writeFileIfChanged } from '../util/fs-atomic.ts';
import { artifactsDir, assertChannel, assertNumber, assertSafeRelPath, assertSafeSegment, manifestPath } from './naming.ts';
import type { ArchiveResult, ReleaseInput } from './types.ts';
import { SHA256_RE, SHA512_RE } from './validate.ts';

export interface StagedArchive {
  component: string;
  name: string;
  project: string;
  gitTag: string;
  /** absolute path of the staged file */
  file: string;
  /** path relative to the site directory */
  sitePath: string;
  /** false when an identical file was already in place */
  copied: boolean;
}

export interface StageResult {
  archives: StagedArchive[];
  /** site-relative <project>/<gitTag> folders that received aggregate checksum files */
  folders: string[];
  /** site-relative files written by this call (empty on an idempotent re-run) */
  written: string[];
}

export interface StageOptions {
  /** parallel copies (default 4) */
  concurrency?: number;
}

const RESERVED = /(^|\/)(SHA256SUM|SHA512SUM)(\.sha256|\.sha512)?$|\.sha(256|512)$/;

interface Planned {
  component: string;
  archive: ArchiveResult;
  folder: string;
  sitePath: string;
  dest: string;
  label: string;
  copy: boolean;
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

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

async function plan(siteDir: string, input: ReleaseInput): Promise<Planned[]> {
  const published = await exists(join(siteDir, manifestPath(input.channel, input.number)));
  const bySitePath = new Map<string, Planned>();
  const conflicts: string[] = [];
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
      const dest = join(siteDir, ...sitePath.split('/'));
      let copy = true;
      if (await exists(dest)) {
        const have = await hashFile(dest);
        copy = have.sha256 !== a.sha256 || have.sha512 !== a.sha512;
        if (copy && published) conflicts.push(sitePath);
      }
      bySitePath.set(sitePath, { component: c.name, archive: a, folder, sitePath, dest, label: `${c.name}/${a.name}`, copy });
    }
  }
  if (conflicts.length) {
    throw new EksdError('ARCHIVE_EXISTS', `release ${input.channel} #${input.number} is already published with different content in ${conflicts.length} archive(s): ${conflicts.join(', ')}`, {
      where: join(siteDir, conflicts[0]!), hint: 'published releases are immutable; release the new artifacts under the next release number',
    });
  }
  return [...bySitePath.values()];
}

/** Copies, verifies and checksums every archive of input under siteDir. Idempotent. */
export async function stageArchives(siteDir: string, input: ReleaseInput, options: StageOptions = {}): Promise<StageResult> {
  assertChannel(input.channel, 'release input channel');
  assertNumber(input.number, 'release input number');
  const planned = await plan(siteDir, input);
  const written: string[] = [];
  const write = async (sitePath: string, content: string): Promise<void> => {
    if (await writeFileIfChanged(join(siteDir, ...sitePath.split('/')), content)) written.push(sitePath);
  };

  await mapLimit(planned.filter((p) => p.copy), options.concurrency ?? 4, async (p) => {
    await copyVerified(p.archive.path, p.dest, p.archive, p.label);
    written.push(p.sitePath);
  });

  const folders = new Map<string, Planned[]>();
  for (const p of planned) {
    await write(`${p.sitePath}.sha256`, sumLine(p.archive.sha256, p.archive.name));
    await write(`${p.sitePath}.sha512`, sumLine(p.archive.sha512, p.archive.name));
    folders.set(p.folder, [...(folders.get(p.folder) ?? []), p]);
  }
  for (const [folder, items] of [...folders].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const sorted = [...items].sort((a, b) => (a.archive.name < b.archive.name ? -1 : 1));
    for (const [file, key] of [['SHA256SUM', 'sha256'], ['SHA512SUM', 'sha512']] as const) {
      const text = sorted.map((p) => sumLine(p.archive[key], p.archive.name)).join('');
      await write(`${folder}/${file}`, text);
      await write(`${folder}/${file}.sha256`, sumLine(createHash('sha256').update(text).digest('hex'), file));
      await write(`${folder}/${file}.sha512`, sumLine(createHash('sha512').update(text).digest('hex'), file));
    }
  }

  return {
    archives: planned.map((p) => ({
      component: p.component, name: p.archive.name, project: p.archive.project, gitTag: p.archive.gitTag,
      file: p.dest, sitePath: p.sitePath, copied: p.copy,
    })),
    folders: [...folders.keys()].sort(),
    written: written.sort(),
  };
}
