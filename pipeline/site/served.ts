/**
 * What may be announced: a release as the site serves it. The manifest named on the command line (a
 * release name, a file or a URL) must be, byte for byte, the object the site store holds under the key
 * its own channel and number give (and what the public site serves there, when one is configured); it
 * must carry the name the site gives it, and the channel file must point at it (or at a later release):
 * a release whose run has not moved the pointers is not released yet. An edited copy, a manifest the
 * site does not have, or one the public site serves differently is refused, naming the key.
 */
import { EksdError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { fetchBytes } from './fetch.ts';
import { parseRelease } from '../release/manifest.ts';
import { assertChannel, assertNumber, channelFilePath, manifestPath, parseReleaseName, releaseName, trimBaseUrl } from '../release/naming.ts';
import { channelPointer, findManifest, firstDifference } from './site.ts';
import type { Release } from '../release/types.ts';

/** A manifest as named on the command line: its bytes, where they came from, and the Release they hold. */
export interface GivenManifest { bytes: Buffer; source: string; release: Release }

export interface Served {
  release: Release;
  /** kubernetes-<ch>-eks-<N>, as the site names it */
  name: string;
  /** where the site store holds it */
  where: string;
}

/** Reads a release name (from the site store), a URL or a file, keeping its bytes; RELEASE_NOT_FOUND when absent. */
export async function readGiven(ref: string, site: Store): Promise<GivenManifest> {
  const found = await findManifest(ref, { site });
  if (!found) {
    throw new EksdError('RELEASE_NOT_FOUND', `release ${ref} not found${parseReleaseName(ref) ? ` in the site store (${site.where('')})` : ''}`, {
      where: ref, hint: 'check the release name, path or URL (names look like kubernetes-1-33-eks-5)',
    });
  }
  const release = parseRelease(found.bytes.toString('utf8'), found.source);
  assertChannel(String(release.spec.channel), `${found.source} spec.channel`);
  assertNumber(release.spec.number, `${found.source} spec.number`);
  return { ...found, release };
}

/** The given manifest, checked to be the release the site serves and points at; else RELEASE_NOT_SERVED. */
export async function assertServed(given: GivenManifest, site: Store, publicUrl?: string): Promise<Served> {
  const { channel, number } = given.release.spec;
  const key = manifestPath(channel, number);
  const name = releaseName(channel, number);
  await sameBytes(given, { what: `the site store's ${site.where(key)}`, where: site.where(key), read: async () => (await site.get(key))?.bytes,
    absent: `only a release the site has is announced: name one it has (eksd verify <name> checks it), or publish ${name} with eksd release, which announces it`,
    differs: `announce the release as the site serves it: eksd announce ${name}; a changed manifest is a new release (eksd release)` });
  if (publicUrl) {
    const url = `${trimBaseUrl(publicUrl)}/${key}`;
    const lags = `the public site does not serve what the site store holds yet: sync it (or wait for its cache), then announce ${name} again`;
    await sameBytes(given, { what: `the public site's ${url}`, where: url, read: () => fetchBytes(url), absent: lags, differs: lags });
  }
  if (given.release.metadata.name !== name) {
    throw notServed(`${given.source} is named ${given.release.metadata.name}, but the site names release ${number} of channel ${channel} ${name}`, given.source,
      `fix metadata.name in the site's ${site.where(key)}, or announce a release made by eksd release`);
  }
  await assertPointed(site, channel, number);
  return { release: given.release, name, where: site.where(key) };
}

/** A copy of the manifest the site serves: where, how to read it, and what to do when it is absent or differs. */
interface Copy { what: string; where: string; read: () => Promise<Buffer | undefined>; absent: string; differs: string }

async function sameBytes(given: GivenManifest, copy: Copy): Promise<void> {
  const bytes = await copy.read();
  if (bytes === undefined) throw notServed(`${given.source} is not published: ${copy.where} does not exist`, copy.where, copy.absent);
  if (bytes.equals(given.bytes)) return;
  const diff = firstDifference(bytes.toString('utf8'), given.bytes.toString('utf8'), ['the site has', 'the manifest given has']);
  throw notServed(`${given.source} is not what ${copy.what} serves (${diff})`, copy.where, copy.differs);
}

async function assertPointed(site: Store, channel: string, number: number): Promise<void> {
  const latest = await channelPointer(site, channel);
  if (latest !== undefined && latest >= number) return;
  const where = site.where(channelFilePath(channel));
  throw notServed(`${releaseName(channel, number)} is not released yet: ${latest === undefined ? `${where} does not exist` : `${where} points at release ${latest}`}`, where,
    `its run has not moved the channel's pointers: finish it with 'eksd release --channel ${channel}', which announces it once the channel file points at it`);
}

function notServed(message: string, where: string, hint: string): EksdError {
  return new EksdError('RELEASE_NOT_SERVED', `${message}; nothing was announced`, { where, hint });
}
