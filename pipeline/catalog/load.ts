/**
 * Loads and validates the catalog: images/channels.yaml, base/bases.yaml, images/<component>/component.yaml
 * and the upstream pin. Every check, for every channel, runs before any side effect; every message names
 * file, line, column and field path. Values that become paths or URL segments (project, gitTag, artifact
 * names, Dockerfiles) are checked here too, so a `..` or an absolute path is refused before anything is
 * fetched, built or tagged. A catalog is then handed out one channel at a time.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { EksdError } from '../errors.ts';
import { parseYaml, readYaml, type YamlSource } from '../util/yaml-source.ts';
import { validateAgainstSchema } from '../util/schema.ts';
import type { Platform } from '../config/config.ts';
import type { Catalog, CatalogConfig, ChannelSpec, ComponentSpec, UpstreamPin } from './model.ts';
import { pickChannel, readChannels } from './channels.ts';
import { checkChannelParents, checkInside, checkReferences, checkSegment, checkUnique, topoSort } from './checks.ts';
import { componentIn, loadComponents, tagClaims, type LoadedComponent } from './components.ts';
import { checkFloatingTags } from './extra-tags.ts';
import { Problems, readSource, schemaOk } from './problems.ts';
import type { Located, RawBases } from './raw.ts';

export type { CatalogConfig } from './model.ts';
export { loadChannels } from './channels.ts';

/** The catalog of one channel (default: the configured one, else the newest active one). A retired channel loads too. */
export function loadCatalog(config: CatalogConfig, channel: string | undefined = config.channel): Catalog {
  const problems = new Problems();
  const channels = readChannels(config.root, problems);
  const bases = loadBases(config, problems);
  const components = loadComponents(config, channels, problems);
  const everyImage = [...bases, ...components.flatMap((c) => c.images)];
  checkUnique(everyImage, problems);
  checkReferences(everyImage, problems);
  checkChannels(channels, bases, components, problems);
  problems.throwIfAny();
  return catalogOf(pickChannel(channels, channel, config.root).name, bases, components);
}

/** Per channel: parents present in that channel, and floating extra tags claimed by one active channel only. */
function checkChannels(channels: ChannelSpec[], bases: Located[], components: LoadedComponent[], problems: Problems): void {
  const known = new Set([...bases, ...components.flatMap((c) => c.images)].map((i) => i.spec.name));
  for (const channel of channels) {
    const images = [...bases, ...components.flatMap((c) => componentIn(c, channel.name)?.images ?? [])];
    checkChannelParents(channel.name, images, known, problems);
  }
  checkFloatingTags(channels.filter((c) => c.active).flatMap((ch) => components.flatMap((c) => tagClaims(c, ch.name))), problems);
}

function catalogOf(channel: string, bases: Located[], components: LoadedComponent[]): Catalog {
  const present = components.flatMap((c) => componentIn(c, channel) ?? []);
  const specs: ComponentSpec[] = present.map((c) => c.spec);
  return {
    components: specs.sort((a, b) => a.name.localeCompare(b.name)),
    images: topoSort([...bases, ...present.flatMap((c) => c.images)].map((i) => i.spec)),
  };
}

/** Bases are the same in every channel. */
function loadBases(config: CatalogConfig, problems: Problems): Located[] {
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
        contextDir: dirname(dockerfile), dockerfile: dockerfile, platforms: [...(b.platforms ?? config.platforms)],
        stages: [], buildArgs: {}, release: false, extraTags: [], where: source.at(path),
      },
    };
  });
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
