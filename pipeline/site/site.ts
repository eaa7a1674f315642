/**
 * The distro site in its store (a directory locally, S3 in production), plus read-only access to
 * published manifests over HTTP(S).
 *   kubernetes-<ch>/kubernetes-<ch>-eks-<N>.yaml      write-once
 *   kubernetes-<ch>/releases/<N>/artifacts/...        write-once, see stage-archives.ts
 *   releasechannels/<ch>.yaml                         overwritten, last (never moved backwards)
 *   crds/*.yaml                                       write-once
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EksdError, isEksdError } from '../errors.ts';
import { parseReleaseChannel, buildReleaseChannel, renderReleaseChannel, type ChannelInput } from '../release/channel.ts';
import { CRD_FILES, readCrdText, type CrdKind } from '../release/crds.ts';
import { fetchBytes } from './fetch.ts';
import { getText, putOnce, type Store } from '../store/store.ts';
import { parseRelease, renderRelease, withDate } from '../release/manifest.ts';
import { assertChannel, channelDir, channelFilePath, CRDS_DIR, manifestPath, manifestUrl, parseReleaseName, releaseName } from '../release/naming.ts';
import type { Release } from '../release/types.ts';
import { assertValidRelease } from '../release/validate.ts';

export { stageArchives, type StageResult, type StagedArchive, type StageOptions } from './archives.ts';

/** Where two texts first differ, for messages: `line 12: existing "...", new "..."`. */
export function firstDifference(a: string, b: string, labels: [string, string] = ['existing', 'new']): string {
  const al = a.split('\n');
  const bl = b.split('\n');
  for (let i = 0; i < Math.max(al.length, bl.length); i++) {
    if (al[i] !== bl[i]) return `line ${i + 1}: ${labels[0]} ${JSON.stringify(al[i] ?? '')}, ${labels[1]} ${JSON.stringify(bl[i] ?? '')}`;
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
 * status.date may differ) keeps the existing object; different content throws RELEASE_EXISTS.
 */
export async function writeManifest(store: Store, release: Release): Promise<WriteManifestResult> {
  assertValidRelease(release, { source: `Release ${release.metadata?.name}` });
  const key = manifestPath(release.spec.channel, release.spec.number);
  const path = store.where(key);
  const text = renderRelease(release);
  const undated = (r: Release): string => renderRelease(withDate(r, ''));
  let existing: Release | undefined;
  const same = (bytes: Buffer): boolean => {
    existing = readExisting(bytes.toString('utf8'), path);
    return undated(existing) === undated(release);
  };
  try {
    const status = await putOnce(store, key, text, same);
    return status === 'written' ? { path, written: true, release } : { path, written: false, release: existing! };
  } catch (e) {
    if (!isEksdError(e, 'STORE_OBJECT_EXISTS') || !existing) throw e;
    throw new EksdError('RELEASE_EXISTS', `${release.metadata.name} is already published with different content (${firstDifference(undated(existing), undated(release))})`, {
      where: path, hint: `release manifests are write-once; publish the change as ${releaseName(release.spec.channel, release.spec.number + 1)} (next release number)`,
    });
  }
}

function readExisting(text: string, path: string): Release {
  try {
    return parseRelease(text, path);
  } catch (cause) {
    throw new EksdError('RELEASE_EXISTS', `${path} already exists and cannot be read as a Release`, {
      where: path, hint: 'a release number is used once; inspect the object, and release under the next number', cause,
    });
  }
}

export type CrdCopyStatus = 'written' | 'unchanged' | 'kept-existing';

export interface WriteChannelResult {
  path: string;
  written: boolean;
  crds: { path: string; status: CrdCopyStatus }[];
}

/** Writes the CRDs (write-once; a different one already there is kept) and then `releasechannels/<ch>.yaml` (overwritten, never to an older latestRelease). */
export async function writeChannel(store: Store, input: ChannelInput): Promise<WriteChannelResult> {
  const rc = buildReleaseChannel(input);
  const key = channelFilePath(input.channel);
  const path = store.where(key);
  const existingText = await getText(store, key);
  if (existingText !== undefined) {
    const existing = parseReleaseChannel(existingText, path);
    const had = existing.status.latestRelease ?? 0;
    if (had > input.latestRelease) {
      throw new EksdError('CHANNEL_REGRESSION', `channel ${input.channel} already points at release ${had}; refusing to move it back to ${input.latestRelease}`, {
        where: `${path} status.latestRelease`, hint: 'the channel file only moves forward; republishing an older release does not rewrite it',
      });
    }
  }
  const crds: WriteChannelResult['crds'] = [];
  for (const kind of Object.keys(CRD_FILES) as CrdKind[]) {
    const crdKey = `${CRDS_DIR}/${CRD_FILES[kind]}`;
    const status = await putOnce(store, crdKey, readCrdText(kind)).catch((e: unknown) => {
      if (isEksdError(e, 'STORE_OBJECT_EXISTS')) return 'kept-existing' as const;
      throw e;
    });
    crds.push({ path: store.where(crdKey), status });
  }
  const text = renderReleaseChannel(rc);
  const written = existingText !== text;
  if (written) await store.put(key, text);
  return { path, written, crds };
}

/** Highest release number with a manifest in the site for channel (0 when none). */
export async function latestNumber(store: Store, channel: string): Promise<number> {
  assertChannel(channel);
  let max = 0;
  for (const n of await store.list(`${channelDir(channel)}/`)) {
    const parsed = n.endsWith('.yaml') ? parseReleaseName(n.slice(0, -5)) : undefined;
    if (parsed && parsed.channel === channel) max = Math.max(max, parsed.number);
  }
  return max;
}

/** The release `releasechannels/<ch>.yaml` points at as the site serves it (undefined when there is no channel file). */
export async function channelPointer(store: Store, channel: string): Promise<number | undefined> {
  assertChannel(channel);
  const key = channelFilePath(channel);
  const text = await getText(store, key);
  return text === undefined ? undefined : parseReleaseChannel(text, store.where(key)).status.latestRelease;
}

export async function nextNumber(store: Store, channel: string): Promise<number> {
  return (await latestNumber(store, channel)) + 1;
}

export interface ReadReleaseOptions {
  /** site store to look release names up in */
  site?: Store;
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
    hint: parseReleaseName(ref) && !options.site && !options.siteBaseUrl
      ? 'give the site directory or site base URL to look release names up in'
      : 'check the release name, path or URL (names look like kubernetes-1-33-eks-5)',
  });
}

async function findRelease(ref: string, options: ReadReleaseOptions): Promise<Release | undefined> {
  const found = await findManifest(ref, options);
  return found && parseRelease(found.bytes.toString('utf8'), found.source, { strict: options.strict ?? false });
}

/**
 * A manifest's bytes as served, and where they came from: an http(s) URL, a release name (from the site
 * store, then under siteBaseUrl) or a file path; undefined when it does not exist.
 */
export async function findManifest(ref: string, options: { site?: Store; siteBaseUrl?: string }): Promise<{ bytes: Buffer; source: string } | undefined> {
  if (/^https?:\/\//i.test(ref)) return withSource(await fetchBytes(ref), ref);
  const name = parseReleaseName(ref);
  if (!name) {
    const path = resolve(ref);
    return withSource(await readFile(path).catch((e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT') return undefined; throw e; }), path);
  }
  const key = manifestPath(name.channel, name.number);
  const stored = options.site && withSource((await options.site.get(key))?.bytes, options.site.where(key));
  if (stored || !options.siteBaseUrl) return stored;
  const url = manifestUrl(options.siteBaseUrl, name.channel, name.number);
  return withSource(await fetchBytes(url), url);
}

const withSource = (bytes: Buffer | undefined, source: string) => (bytes === undefined ? undefined : { bytes, source });

/** The release before `number` in channel (from the site store, else siteBaseUrl), or undefined for the first one. */
export async function previousRelease(site: Store, channel: string, number: number, options: { siteBaseUrl?: string } = {}): Promise<Release | undefined> {
  assertChannel(channel);
  if (number <= 1) return undefined;
  return findRelease(releaseName(channel, number - 1), { site, ...options });
}
