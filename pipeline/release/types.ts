/**
 * Data model of the release stage: what the publish stage hands over (ReleaseInput) and the
 * distro.eks.amazonaws.com/v1alpha1 Release / ReleaseChannel custom resources we write.
 */

// ---- Input contract (from publish) ----

export interface ImageResult {
  name: string;
  repository: string;
  /** tag form <registry>/<repo>:<gitTag>-eks-<ch>-<N> */
  uri: string;
  /** index digest sha256:... */
  digest: string;
  description: string;
  /** linux/amd64 */
  platforms: string[];
  /** reason it differs from the previous release, e.g. "base image updated"; absent when reused unchanged */
  changed?: string;
}

export interface ArchiveResult {
  /** file name or relative path like bin/linux/amd64/kubelet */
  name: string;
  /** site folder, e.g. kubernetes, etcd, plugins */
  project: string;
  gitTag: string;
  /** local verified file */
  path: string;
  os?: 'linux' | 'darwin' | 'windows';
  arch: string[];
  description: string;
  sha256: string;
  sha512: string;
}

export interface ComponentResult {
  name: string;
  gitTag: string;
  gitCommit?: string;
  images: ImageResult[];
  archives: ArchiveResult[];
}

export interface ReleaseInput {
  /** 1-33 */
  channel: string;
  number: number;
  /** RFC3339 UTC */
  date: string;
  /** https://distro.eks.amazonaws.com */
  siteBaseUrl: string;
  buildRepoCommit?: string;
  snsTopicArn?: string;
  components: ComponentResult[];
}

// ---- Custom resources (mirror of the CRDs in ./crds) ----

export const API_VERSION = 'distro.eks.amazonaws.com/v1alpha1';

export type AssetType = 'Archive' | 'Image';
export type AssetOs = 'linux' | 'darwin' | 'windows';

export interface AssetImage {
  /** The image repository, name, and tag (never @sha256) */
  uri: string;
  /** SHA256 digest of the image index; always set by us, absent in some upstream releases */
  imageDigest?: string;
}

export interface AssetArchive {
  uri: string;
  sha256: string;
  sha512: string;
}

export interface Asset {
  name: string;
  type: AssetType;
  os?: AssetOs;
  /** omitted when empty (e.g. kubernetes-src.tar.gz), like Go's omitempty */
  arch?: string[];
  description: string;
  image?: AssetImage;
  archive?: AssetArchive;
}

export interface Component {
  name: string;
  gitTag: string;
  gitCommit?: string;
  assets: Asset[];
}

export interface ObjectMeta {
  name: string;
  creationTimestamp: null;
  /** A retired ReleaseChannel names the day it was retired under RETIRED_ANNOTATION. */
  annotations?: Record<string, string>;
}

/** The annotation of a retired ReleaseChannel that holds the day it was retired (YYYY-MM-DD). */
export const RETIRED_ANNOTATION = 'distro.eks.amazonaws.com/retired';

export interface Release {
  apiVersion: typeof API_VERSION;
  kind: 'Release';
  metadata: ObjectMeta;
  spec: { buildRepoCommit?: string; channel: string; number: number };
  status: { components: Component[]; date: string };
}

export interface ReleaseChannel {
  apiVersion: typeof API_VERSION;
  kind: 'ReleaseChannel';
  metadata: ObjectMeta;
  spec: { snsTopicARN?: string };
  status: { active: boolean; latestRelease?: number };
}
