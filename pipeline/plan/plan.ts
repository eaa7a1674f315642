/**
 * The plan: every image to produce, where it goes, with which tags, FROM what, for which platforms.
 * Pure data from the catalog, the configuration, the upstream pin and the release number.
 */
import { EksdError } from '../errors.ts';
import { splitRepo, type Platform } from '../config/config.ts';
import { allArtifacts, type ArtifactSpec, type Catalog, type UpstreamPin } from '../catalog/model.ts';
import { releaseName } from '../release/naming.ts';
import { floatingTag, versionedTag } from './tags.ts';
import { splitReference } from '../resolve/base.ts';

export interface ImagePlan {
  name: string;
  kind: 'base' | 'image';
  component: string;
  description: string;
  release: boolean;
  gitTag: string;
  registry: string;
  /** Repository path in the registry (namespace + repository). */
  repository: string;
  /** Repository name as the ECR Public API knows it (without the registry alias). */
  apiRepository: string;
  platforms: Platform[];
  from: string;
  builder?: string;
  tags: { versioned: string; floating: string[] };
  /** Tag-form reference written into the Release manifest. */
  uri: string;
}

export interface UpstreamPlan {
  reference: string;
  registry: string;
  repository: string;
  digest: string;
  platforms: Partial<Record<Platform, string>>;
}

export interface Plan {
  channel: string;
  number: number;
  release: string;
  upstream: UpstreamPlan;
  images: ImagePlan[];
  artifacts: ArtifactSpec[];
}

export function makePlan(config: { channel: string }, catalog: Catalog, pin: UpstreamPin, number: number): Plan {
  const upstream = upstreamPlan(pin);
  const images = catalog.images.map((image): ImagePlan => {
    const { registry, namespace } = splitRepo(image.imageRepo);
    const repository = namespace ? `${namespace}/${image.repository}` : image.repository;
    const versioned = versionedTag(image.gitTag, config.channel, number);
    return {
      name: image.name, kind: image.kind, component: image.component, description: image.description,
      release: image.release, gitTag: image.gitTag, registry, repository, apiRepository: image.repository,
      platforms: image.platforms, from: image.from, ...(image.builder ? { builder: image.builder } : {}),
      tags: { versioned, floating: [floatingTag(image.gitTag, config.channel), ...image.extraTags] },
      uri: `${registry}/${repository}:${versioned}`,
    };
  });
  return {
    channel: config.channel, number, release: releaseName(config.channel, number), upstream, images,
    artifacts: allArtifacts(catalog),
  };
}

function upstreamPlan(pin: UpstreamPin): UpstreamPlan {
  if (!pin.digest) {
    throw new EksdError('PIN_UNRESOLVED', `the upstream base ${pin.reference} has no pinned digest`, {
      where: pin.file, hint: 'run `eksd watch-base --write` to resolve and record it',
    });
  }
  const { registry, repository } = splitReference(pin.reference);
  return { reference: pin.reference, registry, repository, digest: pin.digest, platforms: pin.platforms };
}
