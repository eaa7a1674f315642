/** Annotation keys on indexes and manifests. */
export const ANNOTATION = {
  baseName: 'org.opencontainers.image.base.name',
  baseDigest: 'org.opencontainers.image.base.digest',
  version: 'org.opencontainers.image.version',
  revision: 'org.opencontainers.image.revision',
  source: 'org.opencontainers.image.source',
  created: 'org.opencontainers.image.created',
  title: 'org.opencontainers.image.title',
  description: 'org.opencontainers.image.description',
  buildKey: 'io.eks-distro.build.key',
  buildInputs: 'io.eks-distro.build.inputs',
} as const;
