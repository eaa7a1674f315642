/**
 * Loads and validates the catalog: base/bases.yaml, images/<component>/component.yaml and the upstream
 * pin. Every check runs before any side effect; every message names file, line, column and field path.
 * Values that become paths or URL segments (project, gitTag, artifact names, Dockerfiles) are checked
 * here too, so a `..` or an absolute path is refused before anything is fetched, built or tagged.
 */
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, relative, sep } from 'node:path';
import { EksdError } from '../errors.ts';
import { isEngineTag, isSafeRelPath, isSafeSegment } from '../release/naming.ts';
import { parseYaml, readYaml, type YamlSource } from '../util/yaml-source.ts';
import { validateAgainstSchema } from '../util/schema.ts';
import type { Config, Platform } from '../config/config.ts';
import { UPSTREAM, parentsOf, type ArtifactSpec, type Catalog, type ComponentSpec, type ImageSpec, type UpstreamPin } from './model.ts';

interface RawArtifact { name: string; platform: Platform; os?: ArtifactSpec['os']; sha256: string; sha512: string; description: string; release?: boolean; stage?: string; contains?: string[] }
interface RawImage { name: string; repository: string; description: string; from: string; builder?: string; dockerfile?: string; platforms?: Platform[]; stages?: string[]; buildArgs?: Record<string, string>; release?: boolean; extraTags?: string[] }
interface RawComponent { name: string; project: string; gitTag: string; gitCommit?: string; artifacts?: RawArtifact[]; images?: RawImage[] }
interface RawBases { gitTag: string; bases: Array<Omit<RawImage, 'stages' | 'buildArgs' | 'release' | 'extraTags'>> }

export type CatalogConfig = Pick<Config, 'root' | 'imageRepo' | 'baseImageRepo' | 'basePin' | 'platforms' | 'channel'>;

export function loadCatalog(config: CatalogConfig): Catalog {
  const problems: string[] = [];
  const bases = loadBases(config, problems);
  const components = loadComponents(config, problems);
  const images = [...bases, ...components.flatMap((c) => c.images)];
  checkUnique(images, problems);
  checkReferences(images, problems);
  if (problems.length > 0) fail(problems);
  const ordered = topoSort(images.map((i) => i.spec));
  return {
    components: components.map((c) => c.spec).sort((a, b) => a.name.localeCompare(b.name)),
    images: ordered,
  };
}

function fail(problems: string[]): never {
  throw new EksdError('CATALOG_INVALID', `the catalog has ${problems.length} problem(s):\n  ${problems.join('\n  ')}`, {
    where: problems[0]?.split(': ')[0], hint: 'fix the listed fields; see README "Catalog format" and schema/*.schema.json',
  });
}

/** Runs a schema check, collecting its message instead of throwing, so one run reports every file. */
function schemaOk(name: string, source: YamlSource, problems: string[]): boolean {
  try {
    validateAgainstSchema(name, source);
    return true;
  } catch (e) {
    if (!(e instanceof EksdError)) throw e;
    problems.push(...e.message.split('\n').slice(1).map((l) => l.trim()));
    return false;
  }
}

function readSource(file: string, problems: string[]): YamlSource | undefined {
  try {
    return readYaml(file);
  } catch (e) {
    if (!(e instanceof EksdError)) throw e;
    problems.push(`${e.where ?? file}: ${e.message}`);
    return undefined;
  }
}

interface Located { spec: ImageSpec; source: YamlSource; path: (string | number)[] }

function loadBases(config: CatalogConfig, problems: string[]): Located[] {
  const file = join(config.root, 'base', 'bases.yaml');
  const source = readSource(file, problems);
  if (!source || !schemaOk('bases', source, problems)) return [];
  const raw = source.data as RawBases;
  checkSegment(raw.gitTag, 'gitTag', source, ['gitTag'], problems);
  return raw.bases.map((b, i) => {
    const path = ['bases', i];
    const dockerfile = resolve(config.root, 'base', b.dockerfile ?? join(b.name, 'Dockerfile'));
    checkInside(dockerfile, join(config.root, 'base'), b.dockerfile, source, [...path, 'dockerfile'], problems);
    return {
      source, path,
      spec: {
        name: b.name, kind: 'base', component: 'base', repository: b.repository, imageRepo: config.baseImageRepo,
        gitTag: raw.gitTag, description: b.description, from: b.from, ...(b.builder ? { builder: b.builder } : {}),
        contextDir: dirname(dockerfile), dockerfile: dockerfile, platforms: b.platforms ?? config.platforms,
        stages: [], buildArgs: {}, release: false, extraTags: [], where: source.at(path),
      },
    };
  });
}

interface LoadedComponent { spec: ComponentSpec; images: Located[]; source: YamlSource }

function loadComponents(config: CatalogConfig, problems: string[]): LoadedComponent[] {
  const dir = join(config.root, 'images');
  const folders = existsSync(dir) ? readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory()).sort() : [];
  const loaded: LoadedComponent[] = [];
  for (const folder of folders) {
    const file = join(dir, folder, 'component.yaml');
    if (!existsSync(file)) {
      problems.push(`${relative(process.cwd(), join(dir, folder))}: component folder has no component.yaml`);
      continue;
    }
    const source = readSource(file, problems);
    if (!source || !schemaOk('component', source, problems)) continue;
    const raw = source.data as RawComponent;
    if (raw.name !== folder) problems.push(`${source.at(['name'])}: name '${raw.name}' must match its folder '${folder}'`);
    loaded.push(toComponent(raw, source, dirname(file), config, problems));
  }
  return loaded;
}

function toComponent(raw: RawComponent, source: YamlSource, dir: string, config: CatalogConfig, problems: string[]): LoadedComponent {
  const project = raw.project.split('/')[1]!;
  checkPathValues(raw, source, problems);
  const artifacts: ArtifactSpec[] = (raw.artifacts ?? []).map((a, i) => ({
    component: raw.name, project, gitTag: raw.gitTag, name: a.name, platform: a.platform, os: a.os ?? 'linux',
    sha256: a.sha256, sha512: a.sha512, description: a.description, release: a.release ?? true,
    ...(a.stage ? { stage: a.stage } : {}), contains: a.contains ?? [], where: source.at(['artifacts', i]),
  }));
  checkArtifactNames(artifacts, source, problems);
  const images: Located[] = (raw.images ?? []).map((img, i) => {
    const path = ['images', i];
    const dockerfile = resolve(dir, img.dockerfile ?? 'Dockerfile');
    const spec: ImageSpec = {
      name: img.name, kind: 'image', component: raw.name, repository: img.repository, imageRepo: config.imageRepo,
      gitTag: raw.gitTag, description: img.description, from: img.from, ...(img.builder ? { builder: img.builder } : {}),
      contextDir: dirname(dockerfile), dockerfile, platforms: img.platforms ?? config.platforms,
      stages: img.stages ?? [], buildArgs: img.buildArgs ?? {}, release: img.release ?? true,
      extraTags: img.extraTags ?? [], where: source.at(path),
    };
    checkInside(dockerfile, dir, img.dockerfile, source, [...path, 'dockerfile'], problems);
    checkImageInputs(spec, artifacts, source, path, problems);
    checkTagLength(spec, config.channel, source, path, problems);
    checkExtraTags(spec, source, path, problems);
    return { spec, source, path };
  });
  return {
    source, images,
    spec: { name: raw.name, project: raw.project, gitTag: raw.gitTag, ...(raw.gitCommit ? { gitCommit: raw.gitCommit } : {}),
      file: source.file, artifacts, images: images.map((i) => i.spec.name) },
  };
}

/** project, gitTag and artifact names become site folders, URL segments and file names. */
function checkPathValues(raw: RawComponent, source: YamlSource, problems: string[]): void {
  raw.project.split('/').forEach((segment) => {
    if (!isSafeSegment(segment)) problems.push(`${source.at(['project'])}: project '${raw.project}' has the segment '${segment}'; each of owner/repo must be a plain folder name (letters, digits, '.', '_', '-'; no '..'), since the repo names the site folder`);
  });
  checkSegment(raw.gitTag, 'gitTag', source, ['gitTag'], problems);
  (raw.artifacts ?? []).forEach((a, i) => {
    if (!isSafeRelPath(a.name)) problems.push(`${source.at(['artifacts', i, 'name'])}: artifact name '${a.name}' must be a relative path of plain names (no '..', '.' or empty segments, no leading '/'); it becomes a file under the site and the artifact URL`);
  });
}

function checkSegment(value: string, field: string, source: YamlSource, path: (string | number)[], problems: string[]): void {
  if (!isSafeSegment(value)) problems.push(`${source.at(path)}: ${field} '${value}' must be a plain folder name (letters, digits, '.', '_', '+', '-'; not starting with '.'); it becomes a site folder and a URL segment`);
}

/** A Dockerfile (and so its build context, the Dockerfile's folder) must stay inside `folder`, symlinks resolved. */
function checkInside(file: string, folder: string, given: string | undefined, source: YamlSource, path: (string | number)[], problems: string[]): void {
  const shownFolder = relative(process.cwd(), folder) || folder;
  if (given !== undefined && isAbsolute(given)) {
    problems.push(`${source.at(path)}: dockerfile '${given}' is an absolute path; give it relative to ${shownFolder}`);
    return;
  }
  const real = (p: string) => { try { return realpathSync(p); } catch { return resolve(p); } };
  const root = real(folder);
  const target = existsSync(file) ? real(file) : join(real(dirname(file)), basename(file));
  if (target !== root && !target.startsWith(root + sep)) {
    problems.push(`${source.at(path)}: dockerfile '${given ?? relative(folder, file)}' resolves outside ${shownFolder} (to ${relative(process.cwd(), target) || target}); the Dockerfile and its build context must live in that folder`);
  }
}

/** Extra tags must not look like the versioned or floating tags the engine moves itself. */
function checkExtraTags(spec: ImageSpec, source: YamlSource, path: (string | number)[], problems: string[]): void {
  spec.extraTags.forEach((tag, t) => {
    if (isEngineTag(tag)) problems.push(`${source.at([...path, 'extraTags', t])}: extra tag '${tag}' has the shape of a tag the engine moves (<gitTag>-eks-<channel>-<number> or <gitTag>-eks-<channel>-latest); choose a tag without an -eks-<channel>-<number|latest> ending`);
  });
}

function checkArtifactNames(artifacts: ArtifactSpec[], source: YamlSource, problems: string[]): void {
  const seen = new Set<string>();
  artifacts.forEach((a, i) => {
    if (seen.has(a.name)) problems.push(`${source.at(['artifacts', i, 'name'])}: duplicate artifact '${a.name}'`);
    seen.add(a.name);
  });
}

function checkImageInputs(spec: ImageSpec, artifacts: ArtifactSpec[], source: YamlSource, path: (string | number)[], problems: string[]): void {
  if (!existsSync(spec.dockerfile)) {
    problems.push(`${source.at([...path, 'dockerfile'])}: Dockerfile not found at ${relative(process.cwd(), spec.dockerfile)}; add it or set 'dockerfile'`);
  }
  spec.stages.forEach((stage, s) => {
    for (const platform of spec.platforms) {
      if (!artifacts.some((a) => a.stage === stage && a.platform === platform)) {
        problems.push(`${source.at([...path, 'stages', s])}: no artifact with stage '${stage}' for ${platform}; add one under artifacts with 'stage: ${stage}'`);
      }
    }
  });
}

/** Image tags are <gitTag>-eks-<channel>-<number>; registries cap tags at 128 characters. */
function checkTagLength(spec: ImageSpec, channel: string, source: YamlSource, path: (string | number)[], problems: string[]): void {
  const longest = `${spec.gitTag}-eks-${channel}-latest`;
  if (longest.length > 128) problems.push(`${source.at(path)}: tag '${longest}' is longer than 128 characters`);
}

function checkUnique(images: Located[], problems: string[]): void {
  const names = new Map<string, Located>();
  const repos = new Map<string, Located>();
  for (const img of images) {
    const prevName = names.get(img.spec.name);
    if (prevName) problems.push(`${img.source.at([...img.path, 'name'])}: duplicate image name '${img.spec.name}' (also at ${prevName.spec.where})`);
    names.set(img.spec.name, img);
    const repoKey = `${img.spec.imageRepo}/${img.spec.repository}`;
    const prevRepo = repos.get(repoKey);
    if (prevRepo) problems.push(`${img.source.at([...img.path, 'repository'])}: duplicate repository '${img.spec.repository}' (also used by ${prevRepo.spec.name})`);
    repos.set(repoKey, img);
  }
}

function checkReferences(images: Located[], problems: string[]): void {
  const byName = new Map(images.map((i) => [i.spec.name, i]));
  const names = [...byName.keys()].join(', ');
  for (const img of images) {
    for (const field of ['from', 'builder'] as const) {
      const ref = img.spec[field];
      if (ref === undefined) continue;
      if (ref === UPSTREAM) {
        if (img.spec.kind !== 'base') problems.push(`${img.source.at([...img.path, field])}: only base images may be built FROM upstream; use a base such as eks-distro-minimal-base`);
        continue;
      }
      const parent = byName.get(ref);
      if (!parent) { problems.push(`${img.source.at([...img.path, field])}: unknown base or image '${ref}'; expected one of ${names}`); continue; }
      if (img.spec.kind === 'base' && parent.spec.kind !== 'base') problems.push(`${img.source.at([...img.path, field])}: a base cannot be built from the component image '${ref}'`);
      const missing = img.spec.platforms.filter((p) => !parent.spec.platforms.includes(p));
      if (missing.length) problems.push(`${img.source.at([...img.path, 'platforms'])}: ${ref} is not built for ${missing.join(', ')}`);
    }
  }
  const cycle = findCycle(images.map((i) => i.spec));
  if (cycle) problems.push(`${byName.get(cycle[0]!)!.source.at([...byName.get(cycle[0]!)!.path, 'from'])}: dependency cycle ${cycle.join(' -> ')}`);
}

function findCycle(images: ImageSpec[]): string[] | undefined {
  const byName = new Map(images.map((i) => [i.name, i]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const p of parentsOf(byName.get(name)!)) {
      if (!byName.has(p)) continue;
      const c = visit(p);
      if (c) return c;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const i of images) {
    const c = visit(i.name);
    if (c) return c;
  }
  return undefined;
}

/** Parents before children; ties broken by kind (bases first) then name, so the order is stable. */
function topoSort(images: ImageSpec[]): ImageSpec[] {
  const done = new Set<string>();
  const out: ImageSpec[] = [];
  const rest = [...images].sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'base' ? -1 : 1));
  while (rest.length) {
    const i = rest.findIndex((img) => parentsOf(img).every((p) => done.has(p)));
    const [next] = rest.splice(i, 1);
    out.push(next!);
    done.add(next!.name);
  }
  return out;
}

export function loadPin(file: string): UpstreamPin {
  if (!existsSync(file)) {
    throw new EksdError('PIN_MISSING', `base pin file not found: ${relative(process.cwd(), file)}`, {
      where: relative(process.cwd(), file),
      hint: 'run `eksd watch-base --write` to resolve the upstream image and write the pin (the local profile seeds it with `eksd env up --seed`)',
    });
  }
  return pinFrom(readYaml(file), file);
}

/** A pin file's text read from elsewhere (the state store's record of the last release), validated like the file. */
export function parsePin(text: string, where: string): UpstreamPin {
  return pinFrom(parseYaml(text, where), where);
}

function pinFrom(source: YamlSource, file: string): UpstreamPin {
  validateAgainstSchema('pin', source);
  const raw = (source.data as { upstream: { reference: string; digest?: string | null; platforms?: Partial<Record<Platform, string>> } }).upstream;
  return { reference: raw.reference, ...(raw.digest ? { digest: raw.digest } : {}), platforms: raw.platforms ?? {}, file };
}
