/** The catalog as plain data: what the distribution is made of. Produced by load.ts, read by every stage. */
import type { Config, Platform } from '../config/config.ts';

export const UPSTREAM = 'upstream';

/** What loading the catalog needs of the configuration; `channel` is the channel loaded by default. */
export type CatalogConfig = Pick<Config, 'root' | 'imageRepo' | 'baseImageRepo' | 'basePin' | 'platforms' | 'channel'>;

export interface ArtifactSpec {
  component: string;
  /** Site folder: the last segment of the component's upstream project (kubernetes, etcd, plugins, ...). */
  project: string;
  gitTag: string;
  name: string;
  platform: Platform;
  os: 'linux' | 'darwin' | 'windows';
  sha256: string;
  sha512: string;
  description: string;
  release: boolean;
  stage?: string;
  contains: string[];
  /** Source location for messages: file:line:col and field path. */
  where: string;
}

export interface ImageSpec {
  name: string;
  kind: 'base' | 'image';
  /** Component the image belongs to; bases belong to the pseudo-component "base". */
  component: string;
  /** Repository under the image repo namespace, e.g. etcd-io/etcd. */
  repository: string;
  /** Registry + namespace the image is pushed to, e.g. 127.0.0.1:5000/eks-distro. */
  imageRepo: string;
  /** The component's version in the channel loaded (bases: bases.yaml's gitTag). */
  gitTag: string;
  description: string;
  /** "upstream" or the name of another image/base. */
  from: string;
  builder?: string;
  /** Absolute path of the build context (the Dockerfile's folder). */
  contextDir: string;
  dockerfile: string;
  platforms: Platform[];
  stages: string[];
  buildArgs: Record<string, string>;
  release: boolean;
  extraTags: string[];
  where: string;
}

export interface ComponentSpec {
  name: string;
  project: string;
  /** The version the channel loaded ships. */
  gitTag: string;
  gitCommit?: string;
  file: string;
  artifacts: ArtifactSpec[];
  /** Names of this component's images. */
  images: string[];
}

export interface UpstreamPin {
  reference: string;
  digest?: string;
  platforms: Partial<Record<Platform, string>>;
  file: string;
}

/** One channel's catalog: the components that exist in it, with its versions. */
export interface Catalog {
  components: ComponentSpec[];
  /** Every buildable image, bases first, in dependency order (parents before children). */
  images: ImageSpec[];
}

export function imageByName(catalog: Catalog, name: string): ImageSpec {
  const image = catalog.images.find((i) => i.name === name);
  if (!image) throw new Error(`no image named ${name} in the catalog`);
  return image;
}

/** The images an image needs first: its FROM and its builder (never "upstream"). */
export function parentsOf(image: ImageSpec): string[] {
  return [image.from, image.builder].filter((p): p is string => p !== undefined && p !== UPSTREAM);
}

export function allArtifacts(catalog: Catalog): ArtifactSpec[] {
  return catalog.components.flatMap((c) => c.artifacts);
}

/** A release channel of images/channels.yaml. A retired channel gets no releases; its data stays loadable. */
export interface ChannelSpec {
  name: string;
  active: boolean;
  /** The day it was retired (YYYY-MM-DD); set exactly when `active` is false. */
  retired?: string;
  where: string;
}
