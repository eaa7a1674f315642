/** Manifest media types the client reads and writes. */
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/** Config and layer media types (used by tests and image assembly). */
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** The OCI empty descriptor (`{}`), the config of artifact manifests (image-spec 1.1). */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const OCI_EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
export const OCI_EMPTY_DATA = 'e30=';
export const OCI_EMPTY_DESCRIPTOR: Readonly<Descriptor> = Object.freeze({ mediaType: OCI_EMPTY, digest: OCI_EMPTY_DIGEST, size: 2, data: OCI_EMPTY_DATA });

/** The same media types by name, for code that writes images. */
export const MEDIA = {
  ociIndex: OCI_INDEX,
  ociManifest: OCI_MANIFEST,
  ociConfig: OCI_CONFIG,
  ociLayerGzip: OCI_LAYER_GZIP,
  dockerList: DOCKER_LIST,
  dockerManifest: DOCKER_MANIFEST,
} as const;

export const MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(', ');

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_LIST;
}

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
}

/** Layers a registry must not (or need not) hold: foreign / non-distributable layers. */
export function isForeignLayer(mediaType: string | undefined): boolean {
  return mediaType !== undefined && /foreign|nondistributable/.test(mediaType);
}

/** The media type of a Content-Type header value, without parameters. */
export function bareMediaType(contentType: string | null | undefined): string | undefined {
  const v = contentType?.split(';')[0]?.trim();
  return v ? v : undefined;
}

/** A content descriptor as found in manifests and indexes. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string; 'os.version'?: string };
  artifactType?: string;
  /** The content itself, base64 (image-spec 1.1; the empty descriptor carries `e30=`). */
  data?: string;
}

/** The fields of a manifest or index the client looks at. */
export interface ManifestJson {
  schemaVersion?: number;
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}
