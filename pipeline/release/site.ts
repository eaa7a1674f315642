/**
 * The ReleaseStore: a directory laid out like the distro site (DESIGN §5), plus read-only access to
 * published manifests over HTTP(S).
 *   kubernetes-<ch>/kubernetes-<ch>-eks-<N>.yaml      write-once
 *   kubernetes-<ch>/releases/<N>/artifacts/...        see stage-archives.ts
 *   releasechannels/<ch>.yaml                         overwritten (never moved backwards)
 *   crds/*.yaml                                       write-once
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EksdError } from '../errors.ts';
import { parseReleaseChannel, buildReleaseChannel, renderReleaseChannel, type ChannelInput } from './channel.ts';
import { CRD_FILES, readCrdText, type CrdKind } from './crds.ts';
import { fetchText } from './fetch.ts';
import { createFileAtomic, readIfExists, writeFileIfChanged } from '../util/fs-atomic.ts';
import { parseRelease, renderRelease, withDate } from './manifest.ts';
import { assertChannel, channelDir, channelFilePath, CRDS_DIR, manifestPath, manifestUrl, parseReleaseName, releaseName } from './naming.ts';
import type { Release } from './types.ts';
import { assertValidRelease } from './validate.ts';

export { stageArchives, type StageResult, type StagedArchive, type StageOptions } from './stage-archives.ts';

const sitePath = (siteDir: string, rel: string): string => join(siteDir, ...rel.split('/'));

function firstDifference(a: string, b: string): string {
  const al = a.split('\n');
  const bl = b.split('\n');
  for (let i = 0; i < Math.max(al.length, bl.length); i++) {
    if (al[i] !== bl[i]) return `line ${i + 1}: existing ${JSON.stringify(al[i] ?? '')}, new ${JSON.stringify(bl[i] ?? '')}`;
  }
  return 'no line differs';
}

export interface WriteManifestResult {
  path: string;
  /** false when an identical manifest (apart from status.date) was already there */
  written: boolean;
  /** the release as stored (the existing one when nothing was written) */
  release: Release;
}

/**
 * Writes `kubernetes-<ch>/kubernetes-<ch>-eks-<N>.yaml` once. Re-writing the same content (only
 * status.date may differ) keeps the existing file; different content throws RELEASE_EXISTS.
 */
export async function writeManifest(siteDir: string, release: Release): Promise<WriteManifestResult> {
  assertValidRelease(release, { source: `Release ${release.metadata?.name}` });
  const path = sitePath(siteDir, manifestPath(release.spec.channel, release.spec.number));
  const text = renderRelease(release);
  for (;;) {
    const existingText = await readIfExists(path);
    if (existingText === undefined) {
      if (await createFileAtomic(path, text)) return { path, written: true, release };
      continue; // created by someone else in the meantime: compare with theirs
    }
    let existing: Release;
    try {
      existing = parseRelease(existingText, path);
    } catch (cause) {
      throw new EksdError('RELEASE_EXISTS', `${path} already exists and cannot be read as a Release`, {
        where: path, hint: 'a release number is used once; inspect the file, and release under the next number', cause,
      });
    }
    const mine = renderRelease(withDate(release, ''));
    const theirs = renderRelease(withDate(existing, ''));
    if (mine === theirs) return { path, written: false, release: existing };
    throw new EksdError('RELEASE_EXISTS', `${release.metadata.name} is already published with different content (${firstDifference(theirs, mine)})`, {
      where: path, hint: `release manifests are write-once; publish the change as ${releaseName(release.spec.channel, release.spec.number + 1)} (next release number)`,
    });
  }
}

export type CrdCopyStatus = 'written' | 'unchanged' | 'kept-existing';

export interface WriteChannelResult {
  path: string;
  written: boolean;
  crds: { path: string; status: CrdCopyStatus }[];
}

/** Writes `releasechannels/<ch>.yaml` (overwrite, never to an older latestRelease) and the CRDs (write-once). */
export async function writeChannel(siteDir: string, input: ChannelInput): Promise<WriteChannelResult> {
  const rc = buildReleaseChannel(input);
  const path = sitePath(siteDir, channelFilePath(input.channel));
  const existingText = await readIfExists(path);
  if (existingText !== undefined) {
    const existing = parseReleaseChannel(existingText, path);
    const had = existing.status.latestRelease ?? 0;
    if (had > input.latestRelease) {
      throw new EksdError('CHANNEL_REGRESSION', `channel ${input.channel} already points at release ${had}; refusing to move it back to ${input.latestRelease}`, {
        where: `${path} status.latestRelease`, hint: 'the channel file only moves forward; republishing an older release does not rewrite it',
      });
    }
  }
  const written = await writeFileIfChanged(path, renderReleaseChannel(rc));
  const crds: WriteChannelResult['crds'] = [];
  for (const kind of Object.keys(CRD_FILES) as CrdKind[]) {
    const crdPath = sitePath(siteDir, `${CRDS_DIR}/${CRD_FILES[kind]}`);
    const text = readCrdText(kind);
    let status: CrdCopyStatus = 'written';
    if (!(await createFileAtomic(crdPath, text))) status = (await readFile(crdPath, 'utf8')) === text ? 'unchanged' : 'kept-existing';
    crds.push({ path: crdPath, status });
  }
  return { path, written, crds };
}

/** Highest release number with a manifest in siteDir for channel (0 when none). */
export async function latestNumber(siteDir: string, channel: string): Promise<number> {
  assertChannel(channel);
  let names: string[];
  try {
    names = await readdir(sitePath(siteDir, channelDir(channel)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  let max = 0;
  for (const n of names) {
    const parsed = n.endsWith('.yaml') ? parseReleaseName(n.slice(0, -5)) : undefined;
    if (parsed && parsed.channel === channel) max = Math.max(max, parsed.number);
  }
  return max;
}

export async function nextNumber(siteDir: string, channel: string): Promise<number> {
  return (await latestNumber(siteDir, channel)) + 1;
}

export interface ReadReleaseOptions {
  /** site directory to look release names up in */
  siteDir?: string;
  /** published site, used for release names not found in siteDir */
  siteBaseUrl?: string;
  /** apply our strict contract (default false) */
  strict?: boolean;
}

/**
 * Reads a Release from a file path, a release name (`kubernetes-1-33-eks-5`, looked up in siteDir,
 * then under siteBaseUrl) or an http(s) URL. Throws RELEASE_NOT_FOUND when it does not exist.
 */
export async function readRelease(ref: string, options: ReadReleaseOptions = {}): Promise<Release> {
  const found = await findRelease(ref, options);
  if (found) return found;
  throw new EksdError('RELEASE_NOT_FOUND', `release ${ref} not found`, {
    where: ref,
    hint: parseReleaseName(ref) && !options.siteDir && !options.siteBaseUrl
      ? 'give the site directory or site base URL to look release names up in'
      : 'check the release name, path or URL (names look like kubernetes-1-33-eks-5)',
  });
}

async function findRelease(ref: string, options: ReadReleaseOptions): Promise<Release | undefined> {
  const parse = (text: string, source: string): Release => parseRelease(text, source, { strict: options.strict ?? false });
  if (/^https?:\/\//i.test(ref)) {
    const text = await fetchText(ref);
    return text === undefined ? undefined : parse(text, ref);
  }
  const name = parseReleaseName(ref);
  if (name) {
    if (options.siteDir) {
      const path = sitePath(options.siteDir, manifestPath(name.channel, name.number));
      const text = await readIfExists(path);
      if (text !== undefined) return parse(text, path);
    }
    if (options.siteBaseUrl) {
      const url = manifestUrl(options.siteBaseUrl, name.channel, name.number);
      const text = await fetchText(url);
      if (text !== undefined) return parse(text, url);
    }
    return undefined;
  }
  const path = resolve(ref);
  const text = await readIfExists(path);
  return text === undefined ? undefined : parse(text, path);
}

/** The release before `number` in channel (from siteDir, else siteBaseUrl), or undefined for the first one. */
export async function previousRelease(siteDir: string, channel: string, number: number, options: { siteBaseUrl?: string } = {}): Promise<Release | undefined> {
  assertChannel(channel);
  if (number <= 1) return undefined;
  return findRelease(releaseName(channel, number - 1), { siteDir, ...options });
}
