/**
 * images/<component>/component.yaml: read once, checked once per version, and then seen through one
 * channel at a time (that channel's version, artifacts and extra tags). Images are written once per
 * component; `{gitTag}` in a build argument becomes the channel's version, so one recipe builds them all.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { isSafeRelPath, isSafeSegment } from '../release/naming.ts';
import type { YamlSource } from '../util/yaml-source.ts';
import type { ArtifactSpec, ChannelSpec, ComponentSpec, ImageSpec } from './model.ts';
import type { CatalogConfig } from './model.ts';
import { checkInside, checkSegment } from './checks.ts';
import { shownChannelsFile } from './channels.ts';
import { checkTagShapes, type TagClaim } from './extra-tags.ts';
import { readSource, schemaOk, type Problems } from './problems.ts';
import type { Located, RawComponent, RawImage, RawVersion } from './raw.ts';
import { versionsByChannel, type VersionIndex } from './versions.ts';

const PLACEHOLDER = /\{([^{}]*)\}/g;

export interface LoadedComponent { raw: RawComponent; source: YamlSource; images: Located[]; versionOf: VersionIndex }

export function loadComponents(config: CatalogConfig, channels: ChannelSpec[], problems: Problems): LoadedComponent[] {
  const dir = join(config.root, 'images');
  const folders = existsSync(dir) ? readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory()).sort() : [];
  const loaded: LoadedComponent[] = [];
  for (const folder of folders) {
    const file = join(dir, folder, 'component.yaml');
    if (!existsSync(file)) {
      problems.add(`${relative(process.cwd(), join(dir, folder))}: component folder has no component.yaml`);
      continue;
    }
    const source = readSource(file, problems);
    if (!source || !schemaOk('component', source, problems)) continue;
    const raw = source.data as RawComponent;
    if (raw.name !== folder) problems.add(`${source.at(['name'])}: name '${raw.name}' must match its folder '${folder}'`);
    loaded.push(toComponent(raw, source, dirname(file), config, channels, problems));
  }
  return loaded;
}

function toComponent(raw: RawComponent, source: YamlSource, dir: string, config: CatalogConfig, channels: ChannelSpec[], problems: Problems): LoadedComponent {
  checkProject(raw, source, problems);
  const images = (raw.images ?? []).map((img, i) => imageTemplate(img, ['images', i], raw, source, dir, config, problems));
  const versionOf = versionsByChannel(raw, source, channels, shownChannelsFile(config.root), problems);
  raw.versions.forEach((v, i) => checkVersion(raw, v, i, images, source, problems));
  return { raw, source, images, versionOf };
}

/** The image as written; gitTag, build arguments and extra tags are filled in per channel. */
function imageTemplate(img: RawImage, path: (string | number)[], raw: RawComponent, source: YamlSource, dir: string, config: CatalogConfig, problems: Problems): Located {
  const dockerfile = resolve(dir, img.dockerfile ?? 'Dockerfile');
  const spec: ImageSpec = {
    name: img.name, kind: 'image', component: raw.name, repository: img.repository, imageRepo: config.imageRepo,
    gitTag: '', description: img.description, from: img.from, ...(img.builder ? { builder: img.builder } : {}),
    contextDir: dirname(dockerfile), dockerfile, platforms: [...(img.platforms ?? config.platforms)],
    stages: [...(img.stages ?? [])], buildArgs: { ...img.buildArgs }, release: img.release ?? true,
    extraTags: [...(img.extraTags ?? [])], where: source.at(path),
  };
  checkInside(dockerfile, dir, img.dockerfile, source, [...path, 'dockerfile'], problems);
  if (!existsSync(dockerfile)) problems.add(`${source.at([...path, 'dockerfile'])}: Dockerfile not found at ${relative(process.cwd(), dockerfile)}; add it or set 'dockerfile'`);
  checkTagShapes(spec.extraTags, source, [...path, 'extraTags'], problems);
  checkPlaceholders(spec.buildArgs, source, [...path, 'buildArgs'], problems);
  return { spec, source, path };
}

function checkPlaceholders(args: Record<string, string>, source: YamlSource, path: (string | number)[], problems: Problems): void {
  for (const [name, value] of Object.entries(args)) {
    for (const [, key] of value.matchAll(PLACEHOLDER)) {
      if (key !== 'gitTag') problems.add(`${source.at([...path, name])}: unknown placeholder '{${key}}' in build argument ${name}; only {gitTag} (the component's version in the channel) is replaced`);
    }
  }
}

/** project becomes a site folder: owner/repo, each a plain name. */
function checkProject(raw: RawComponent, source: YamlSource, problems: Problems): void {
  raw.project.split('/').forEach((segment) => {
    if (!isSafeSegment(segment)) problems.add(`${source.at(['project'])}: project '${raw.project}' has the segment '${segment}'; each of owner/repo must be a plain folder name (letters, digits, '.', '_', '-'; no '..'), since the repo names the site folder`);
  });
}

/** gitTag and artifact names become site folders, URL segments, file names and image tags. */
function checkVersion(raw: RawComponent, v: RawVersion, i: number, images: Located[], source: YamlSource, problems: Problems): void {
  const path = ['versions', i];
  checkSegment(v.gitTag, 'gitTag', source, [...path, 'gitTag'], problems);
  const names = new Set<string>();
  (v.artifacts ?? []).forEach((a, j) => {
    const at = source.at([...path, 'artifacts', j, 'name']);
    if (!isSafeRelPath(a.name)) problems.add(`${at}: artifact name '${a.name}' must be a relative path of plain names (no '..', '.' or empty segments, no leading '/'); it becomes a file under the site and the artifact URL`);
    if (names.has(a.name)) problems.add(`${at}: duplicate artifact '${a.name}'`);
    names.add(a.name);
  });
  for (const img of images) checkStages(img, v, i, problems);
  for (const channel of v.channels) {
    const longest = `${v.gitTag}-eks-${channel}-latest`;
    if (longest.length > 128) problems.add(`${source.at([...path, 'gitTag'])}: tag '${longest}' is longer than 128 characters`);
  }
  for (const [image, tags] of Object.entries(v.extraTags ?? {})) {
    if (!images.some((img) => img.spec.name === image)) problems.add(`${source.at([...path, 'extraTags', image])}: ${raw.name} has no image '${image}'; extraTags are keyed by the names under images (${images.map((x) => x.spec.name).join(', ') || 'none'})`);
    checkTagShapes(tags, source, [...path, 'extraTags', image], problems);
  }
}

function checkStages(img: Located, v: RawVersion, i: number, problems: Problems): void {
  img.spec.stages.forEach((stage, s) => {
    for (const platform of img.spec.platforms) {
      if (!(v.artifacts ?? []).some((a) => a.stage === stage && a.platform === platform)) {
        problems.add(`${img.source.at([...img.path, 'stages', s])}: no artifact with stage '${stage}' for ${platform} in version ${v.gitTag} (versions[${i}]); add one under versions[${i}].artifacts with 'stage: ${stage}'`);
      }
    }
  });
}

/** The component as one channel ships it, or undefined when it does not exist in that channel. */
export function componentIn(c: LoadedComponent, channel: string): { spec: ComponentSpec; images: Located[] } | undefined {
  const i = c.versionOf.get(channel);
  if (i === undefined) return undefined;
  const v = c.raw.versions[i]!;
  const images = c.images.map((img) => ({ ...img, spec: imageIn(img.spec, v) }));
  const spec: ComponentSpec = {
    name: c.raw.name, project: c.raw.project, gitTag: v.gitTag, ...(v.gitCommit ? { gitCommit: v.gitCommit } : {}),
    file: c.source.file, artifacts: artifactsOf(c, v, i), images: images.map((img) => img.spec.name),
  };
  return { spec, images };
}

function imageIn(template: ImageSpec, v: RawVersion): ImageSpec {
  const buildArgs = Object.fromEntries(Object.entries(template.buildArgs).map(([k, value]) => [k, value.replaceAll('{gitTag}', v.gitTag)]));
  const extraTags = [...new Set([...template.extraTags, ...(v.extraTags?.[template.name] ?? [])])];
  return { ...template, platforms: [...template.platforms], stages: [...template.stages], gitTag: v.gitTag, buildArgs, extraTags };
}

function artifactsOf(c: LoadedComponent, v: RawVersion, i: number): ArtifactSpec[] {
  const project = c.raw.project.split('/')[1]!;
  return (v.artifacts ?? []).map((a, j) => ({
    component: c.raw.name, project, gitTag: v.gitTag, name: a.name, platform: a.platform, os: a.os ?? 'linux',
    sha256: a.sha256, sha512: a.sha512, description: a.description, release: a.release ?? true,
    ...(a.stage ? { stage: a.stage } : {}), contains: [...(a.contains ?? [])], where: c.source.at(['versions', i, 'artifacts', j]),
  }));
}

/** The extra tags the component's images carry in `channel`, each with where it is written. */
export function tagClaims(c: LoadedComponent, channel: string): TagClaim[] {
  const i = c.versionOf.get(channel);
  if (i === undefined) return [];
  const own = c.raw.versions[i]!.extraTags ?? {};
  return c.images.flatMap((img) => [
    ...img.spec.extraTags.map((tag, t) => ({ tag, where: img.source.at([...img.path, 'extraTags', t]) })),
    ...(own[img.spec.name] ?? []).map((tag, t) => ({ tag, where: c.source.at(['versions', i, 'extraTags', img.spec.name, t]) })),
  ].map((x) => ({ channel, repository: img.spec.repository, ...x })));
}
