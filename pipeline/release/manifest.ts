/**
 * The Release manifest: built from the publish stage's results, rendered as deterministic YAML
 * (sorted keys, sorted components and assets: identical input → identical bytes), parsed back.
 */
import { EksdError } from '../errors.ts';
import { parseYaml } from '../util/yaml-source.ts';
import { isRfc3339 } from './crd-check.ts';
import { archiveUri, imageAssetName, assertChannel, assertNumber, assertSafeRelPath, assertSafeSegment, releaseName } from './naming.ts';
import { API_VERSION, type Asset, type ArchiveResult, type Component, type ComponentResult, type ImageResult, type Release, type ReleaseInput } from './types.ts';
import { assertValidRelease } from './validate.ts';
import { renderYaml } from './yaml.ts';

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function uniqueSorted(values: string[]): string[] {
  return [...new Set(values)].sort();
}

/** `linux/amd64`, `linux/arm64/v8` → `amd64`, `arm64`; images are linux only. */
function imageArch(image: ImageResult, where: string): string[] {
  if (image.platforms.length === 0) {
    throw new EksdError('RELEASE_INPUT', `image ${image.name} has no platforms`, {
      where: `${where}.platforms`, hint: 'the publish stage must report the index platforms, e.g. ["linux/amd64", "linux/arm64"]',
    });
  }
  return uniqueSorted(image.platforms.map((p, i) => {
    const [os, arch] = p.split('/');
    if (os !== 'linux' || !arch) {
      throw new EksdError('RELEASE_INPUT', `image ${image.name} has platform "${p}"; only linux/<arch> images are released`, {
        where: `${where}.platforms[${i}]`, hint: 'drop non-linux or unknown/unknown (attestation) entries from the index platforms',
      });
    }
    return arch;
  }));
}

function imageAsset(image: ImageResult, where: string): Asset {
  return {
    name: imageAssetName(image.name),
    type: 'Image',
    os: 'linux',
    arch: imageArch(image, where),
    description: image.description,
    image: { uri: image.uri, imageDigest: image.digest },
  };
}

function archiveAsset(input: ReleaseInput, archive: ArchiveResult, where: string): Asset {
  assertSafeSegment(archive.project, `${where}.project`, 'archive project');
  assertSafeSegment(archive.gitTag, `${where}.gitTag`, 'archive gitTag');
  assertSafeRelPath(archive.name, `${where}.name`, 'archive name');
  const arch = uniqueSorted(archive.arch);
  return {
    name: archive.name,
    type: 'Archive',
    ...(archive.os ? { os: archive.os } : {}),
    ...(arch.length ? { arch } : {}),
    description: archive.description,
    archive: {
      uri: archiveUri(input.siteBaseUrl, input.channel, input.number, archive.project, archive.gitTag, archive.name),
      sha256: archive.sha256,
      sha512: archive.sha512,
    },
  };
}

function component(input: ReleaseInput, c: ComponentResult, ci: number): Component {
  const where = `components[${ci}] (${c.name})`;
  const assets = [
    ...c.images.map((img, i) => imageAsset(img, `${where}.images[${i}]`)),
    ...c.archives.map((a, i) => archiveAsset(input, a, `${where}.archives[${i}]`)),
  ].sort(byName);
  return { name: c.name, gitTag: c.gitTag, ...(c.gitCommit ? { gitCommit: c.gitCommit } : {}), assets };
}

/**
 * The Release custom resource for a publish result. Throws RELEASE_INPUT on unusable input and
 * RELEASE_INVALID (listing every violation) when the result would not meet the manifest contract.
 */
export function buildRelease(input: ReleaseInput): Release {
  assertChannel(input.channel, 'release input channel');
  assertNumber(input.number, 'release input number');
  if (!isRfc3339(input.date)) {
    throw new EksdError('RELEASE_INPUT', `release date "${input.date}" is not an RFC3339 timestamp`, {
      where: 'release input date', hint: 'use new Date().toISOString() style UTC time, e.g. 2025-06-01T12:00:00Z',
    });
  }
  if (!/^https?:\/\/[^\s/]+/.test(input.siteBaseUrl)) {
    throw new EksdError('RELEASE_INPUT', `site base URL "${input.siteBaseUrl}" is not an http(s) URL`, {
      where: 'release input siteBaseUrl', hint: 'e.g. https://distro.eks.amazonaws.com',
    });
  }
  const release: Release = {
    apiVersion: API_VERSION,
    kind: 'Release',
    metadata: { name: releaseName(input.channel, input.number), creationTimestamp: null },
    spec: {
      channel: input.channel,
      number: input.number,
      ...(input.buildRepoCommit ? { buildRepoCommit: input.buildRepoCommit } : {}),
    },
    status: {
      date: input.date,
      components: input.components.map((c, i) => component(input, c, i)).sort(byName),
    },
  };
  assertValidRelease(release, { source: `Release ${release.metadata.name}` });
  return release;
}

/** Deterministic YAML of a Release: keys sorted at every level, same bytes for the same object. */
export function renderRelease(release: Release): string {
  return renderYaml(release);
}

/** The release with another status.date (for comparing content apart from the date). */
export function withDate(release: Release, date: string): Release {
  return { ...release, status: { ...release.status, date } };
}

/** True when two releases render identically apart from status.date. */
export function sameReleaseContent(a: Release, b: Release): boolean {
  return renderRelease(withDate(a, '')) === renderRelease(withDate(b, ''));
}

export interface ParseReleaseOptions {
  /** Also apply our strict contract (default false: any CRD-valid Release, e.g. an upstream one, reads). */
  strict?: boolean;
}

/** Reads a Release manifest; errors name source:line:col of the offending field. */
export function parseRelease(text: string, source: string, options: ParseReleaseOptions = {}): Release {
  const parsed = parseYaml(text, source, { code: 'RELEASE_PARSE' });
  const value = parsed.data as { kind?: unknown } | null;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new EksdError('RELEASE_PARSE', `${source} does not hold a Release object`, {
      where: parsed.locate([]), hint: 'a Release manifest is a YAML mapping with apiVersion, kind: Release, metadata, spec and status',
    });
  }
  if (value.kind !== 'Release') {
    throw new EksdError('RELEASE_PARSE', `${source} is a ${value.kind === undefined ? 'document without kind' : JSON.stringify(value.kind)}, not a Release`, {
      where: parsed.locate(['kind']), hint: 'point at a kubernetes-<ch>-eks-<N>.yaml Release manifest',
    });
  }
  assertValidRelease(value, { strict: options.strict ?? false, source, locate: parsed.locate });
  return value;
}
