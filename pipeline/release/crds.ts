/**
 * The two CustomResourceDefinitions we publish (copied verbatim from upstream EKS-D into ./crds) and
 * access to their OpenAPI v3 schemas.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EksdError } from '../errors.ts';
import { parseYaml } from '../util/yaml-source.ts';

export type CrdKind = 'Release' | 'ReleaseChannel';

export const CRD_FILES: Record<CrdKind, string> = {
  Release: 'releases.distro.eks.amazonaws.com-v1alpha1.yaml',
  ReleaseChannel: 'releasechannels.distro.eks.amazonaws.com-v1alpha1.yaml',
};

/** Absolute path of a bundled CRD file. */
export function crdFilePath(kind: CrdKind): string {
  return fileURLToPath(new URL(`./crds/${CRD_FILES[kind]}`, import.meta.url));
}

export function readCrdText(kind: CrdKind): string {
  const path = crdFilePath(kind);
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new EksdError('CRD_MISSING', `bundled CRD for ${kind} cannot be read`, {
      where: path, hint: 'the pipeline/release/crds folder ships with the tool; reinstall or restore it', cause,
    });
  }
}

const schemas = new Map<CrdKind, Record<string, unknown>>();

/** `spec.versions[0].schema.openAPIV3Schema` of the CRD for kind. */
export function crdSchema(kind: CrdKind): Record<string, unknown> {
  const cached = schemas.get(kind);
  if (cached) return cached;
  const path = crdFilePath(kind);
  const crd = parseYaml(readCrdText(kind), path, { code: 'CRD_INVALID' }).data as {
    spec?: { names?: { kind?: string }; versions?: { schema?: { openAPIV3Schema?: Record<string, unknown> } }[] };
  };
  const schema = crd?.spec?.versions?.[0]?.schema?.openAPIV3Schema;
  if (crd?.spec?.names?.kind !== kind || !schema) {
    throw new EksdError('CRD_INVALID', `bundled CRD is not the ${kind} CRD or has no openAPIV3Schema`, {
      where: `${path} spec.versions[0].schema.openAPIV3Schema`, hint: 'restore the file from upstream EKS-D (release/config/crds)',
    });
  }
  schemas.set(kind, schema);
  return schema;
}
