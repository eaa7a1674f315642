/**
 * Names and site paths of a release, in one place, as the distro site lays them out:
 *   kubernetes-<ch>-eks-<N>                                       Release name
 *   kubernetes-<ch>/kubernetes-<ch>-eks-<N>.yaml                  manifest
 *   kubernetes-<ch>/releases/<N>/artifacts/<project>/<gitTag>/…   archives
 *   kubernetes-<ch>/releases/<N>/timeline.svg                     the run that made it, as a picture
 *   releasechannels/<ch>.yaml, crds/<file>.yaml
 * Paths use '/' (they are URL paths and site-relative paths alike).
 */
import { isChannel } from '../config/channel.ts';
import { EksdError } from '../errors.ts';

export { isChannel };
const RELEASE_NAME = /^kubernetes-((?:0|[1-9][0-9]*)-(?:0|[1-9][0-9]*))-eks-([1-9][0-9]*)$/;
/** Anything a person meant as a release name, well formed or not. */
const RELEASE_NAME_SHAPE = /^kubernetes-.*-eks-/;
/** Tags the engine moves itself: <gitTag>-eks-<channel>-<number> and <gitTag>-eks-<channel>-latest. */
const ENGINE_TAG = /-eks-[0-9]+-[0-9]+-(?:[0-9]+|latest)$/;
/** One path segment of a site folder or file: no separators, no '..', printable and URL-safe. */
const SEGMENT = /^[A-Za-z0-9_+][A-Za-z0-9._+-]*$/;

export function assertChannel(channel: string, where = 'channel'): void {
  if (!isChannel(channel)) {
    throw new EksdError('RELEASE_INPUT', `invalid release channel "${channel}"`, {
      where, hint: 'a channel is the Kubernetes major-minor with a dash and no leading zeros, e.g. 1-33',
    });
  }
}

/**
 * Refuses a release reference that is meant as a release name but is not one (`kubernetes-01-33-eks-1`),
 * so it is not looked for as a file instead.
 */
export function assertReleaseRef(ref: string, where = 'release'): void {
  if (RELEASE_NAME_SHAPE.test(ref) && !ref.includes('/') && !ref.endsWith('.yaml') && !parseReleaseName(ref)) {
    throw new EksdError('RELEASE_INPUT', `invalid release name "${ref}"`, {
      where, hint: 'a release name is kubernetes-<channel>-eks-<number>, e.g. kubernetes-1-33-eks-5 (no leading zeros)',
    });
  }
}

/** A tag shaped like the versioned or floating tags the engine moves (`v1.2.3-eks-1-33-4`, `...-latest`). */
export function isEngineTag(tag: string): boolean {
  return ENGINE_TAG.test(tag);
}

export function assertNumber(number: number, where = 'number'): void {
  if (!Number.isSafeInteger(number) || number < 1) {
    throw new EksdError('RELEASE_INPUT', `invalid release number ${String(number)}`, {
      where, hint: 'release numbers are integers starting at 1',
    });
  }
}

export function releaseName(channel: string, number: number): string {
  return `kubernetes-${channel}-eks-${number}`;
}

/** Splits `kubernetes-1-33-eks-5` into channel and number; undefined when it is not a release name. */
export function parseReleaseName(name: string): { channel: string; number: number } | undefined {
  const m = RELEASE_NAME.exec(name);
  if (!m) return undefined;
  const number = Number(m[2]);
  return number >= 1 && Number.isSafeInteger(number) ? { channel: m[1]!, number } : undefined;
}

export function channelDir(channel: string): string {
  return `kubernetes-${channel}`;
}

export function manifestPath(channel: string, number: number): string {
  return `${channelDir(channel)}/${releaseName(channel, number)}.yaml`;
}

export function artifactsDir(channel: string, number: number, project: string, gitTag: string): string {
  return `${channelDir(channel)}/releases/${number}/artifacts/${project}/${gitTag}`;
}

export function timelinePath(channel: string, number: number): string {
  return `${channelDir(channel)}/releases/${number}/timeline.svg`;
}

export function channelFilePath(channel: string): string {
  return `releasechannels/${channel}.yaml`;
}

export const CRDS_DIR = 'crds';

export function trimBaseUrl(siteBaseUrl: string): string {
  return siteBaseUrl.replace(/\/+$/, '');
}

export function manifestUrl(siteBaseUrl: string, channel: string, number: number): string {
  return `${trimBaseUrl(siteBaseUrl)}/${manifestPath(channel, number)}`;
}

/** The Release manifest's asset name of an image: its name with `-image` (kept when it has it). */
export function imageAssetName(image: string): string {
  return image.endsWith('-image') ? image : `${image}-image`;
}

export function archiveUri(siteBaseUrl: string, channel: string, number: number, project: string, gitTag: string, name: string): string {
  return `${trimBaseUrl(siteBaseUrl)}/${artifactsDir(channel, number, project, gitTag)}/${name}`;
}

/** A single folder name (project, gitTag). */
export function isSafeSegment(s: string): boolean {
  return SEGMENT.test(s);
}

/** A relative file path such as `bin/linux/amd64/kubelet`: safe segments joined by '/'. */
export function isSafeRelPath(p: string): boolean {
  return p.length > 0 && p.split('/').every(isSafeSegment);
}

export function assertSafeSegment(value: string, where: string, what: string): void {
  if (!isSafeSegment(value)) {
    throw new EksdError('RELEASE_INPUT', `${what} "${value}" cannot be used as a site folder name`, {
      where, hint: 'use letters, digits, ".", "_", "+" and "-" only (no "/" or "..")',
    });
  }
}

export function assertSafeRelPath(value: string, where: string, what: string): void {
  if (!isSafeRelPath(value)) {
    throw new EksdError('RELEASE_INPUT', `${what} "${value}" is not a safe relative path`, {
      where, hint: 'use a relative path like bin/linux/amd64/kubelet: letters, digits, ".", "_", "+", "-" and "/" (no "..", no leading "/")',
    });
  }
}

/** What is announced: a release (`kubernetes-1-33-eks-18`) or a channel's retirement (`kubernetes-1-30-retired`). */
export function isAnnouncementName(name: string): boolean {
  const retired = /^kubernetes-(.+)-retired$/.exec(name)?.[1];
  return parseReleaseName(name) !== undefined || (retired !== undefined && isChannel(retired));
}
