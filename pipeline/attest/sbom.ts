/**
 * The SBOM of one platform image: CycloneDX 1.6 JSON made with the CycloneDX library. It lists the
 * image by digest, the artifacts copied in (both hashes, licence), the parent image by digest and the
 * files each added layer holds. A pure function of its input: same input, same bytes.
 */
import { createHash } from 'node:crypto';
import { Enums, Models, Serialize, Spec, SPDX } from '@cyclonedx/cyclonedx-library';
import { digestSet } from './statement.ts';
import { genericPurl, ociPurl, repositoryOf } from './purl.ts';

export interface SbomArtifact {
  name: string;
  version?: string;
  uri: string;
  sha256: string;
  sha512: string;
  license?: string;
}

export interface SbomInput {
  image: string;
  repository: string;
  digest: string;
  platform: string;
  version: string;
  parent?: { reference: string; digest: string };
  artifacts: SbomArtifact[];
  layers: { digest: string; files: { path: string; sha256: string }[] }[];
}

/** The property naming the layer a file component came from. */
export const LAYER_PROPERTY = 'eksd:layer:digest';
export const PLATFORM_PROPERTY = 'eksd:platform';
export const REFERENCE_PROPERTY = 'eksd:reference';

const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));

export function makeSbom(input: SbomInput): object {
  digestSet(input.digest, `${input.repository} ${input.platform}`);
  const image = imageComponent(input);
  const dependencies = new Map<string, Models.Component>();
  if (input.parent) keepFirst(dependencies, parentComponent(input.parent, input.platform));
  for (const artifact of input.artifacts) keepFirst(dependencies, artifactComponent(artifact));
  const files = new Map<string, Models.Component>();
  for (const layer of input.layers) {
    digestSet(layer.digest, `layer of ${input.repository} ${input.platform}`);
    for (const file of layer.files) keepFirst(files, fileComponent(layer.digest, file));
  }
  const bom = new Models.Bom({ serialNumber: serialNumberFor(input.repository, input.digest) });
  bom.metadata.component = image;
  for (const component of dependencies.values()) {
    bom.components.add(component);
    image.dependencies.add(component.bomRef);
  }
  for (const component of files.values()) bom.components.add(component);
  return JSON.parse(serializer.serialize(bom, { sortLists: true })) as object;
}

/** `urn:uuid:` in UUID v5 form from a SHA-1 of the image's repository and digest. */
export function serialNumberFor(repository: string, digest: string): string {
  const b = createHash('sha1').update(`eksd-sbom:${repository}@${digest}`).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function imageComponent(input: SbomInput): Models.Component {
  const purl = ociPurl(input.repository, input.digest, input.platform);
  const image = new Models.Component(Enums.ComponentType.Container, input.image, { version: input.version, purl, bomRef: purl });
  image.properties.add(new Models.Property(PLATFORM_PROPERTY, input.platform));
  return image;
}

function parentComponent(parent: { reference: string; digest: string }, platform: string): Models.Component {
  digestSet(parent.digest, `parent ${parent.reference}`);
  const repository = repositoryOf(parent.reference);
  const purl = ociPurl(repository, parent.digest, platform);
  const name = repository.split('/').pop()!;
  const component = new Models.Component(Enums.ComponentType.Container, name, { version: parent.digest, purl, bomRef: purl });
  component.properties.add(new Models.Property(REFERENCE_PROPERTY, parent.reference));
  return component;
}

function artifactComponent(a: SbomArtifact): Models.Component {
  const purl = genericPurl(a.name, a.version, a.uri);
  const type = /\.(tar\.gz|tgz|tar|zip|tar\.xz)$/.test(a.uri) ? Enums.ComponentType.File : Enums.ComponentType.Application;
  const component = new Models.Component(type, a.name, { version: a.version, purl, bomRef: purl });
  component.hashes.set(Enums.HashAlgorithm['SHA-256'], a.sha256);
  component.hashes.set(Enums.HashAlgorithm['SHA-512'], a.sha512);
  component.externalReferences.add(new Models.ExternalReference(a.uri, Enums.ExternalReferenceType.Distribution));
  if (a.license) component.licenses.add(license(a.license));
  return component;
}

function fileComponent(layerDigest: string, file: { path: string; sha256: string }): Models.Component {
  const component = new Models.Component(Enums.ComponentType.File, file.path, { bomRef: `file:${layerDigest}/${file.path}` });
  component.hashes.set(Enums.HashAlgorithm['SHA-256'], file.sha256);
  component.properties.add(new Models.Property(LAYER_PROPERTY, layerDigest));
  return component;
}

function license(text: string): Models.License {
  const id = SPDX.fixupSpdxId(text);
  if (id) return new Models.SpdxLicense(id);
  if (/\s(AND|OR|WITH)\s/.test(text)) return new Models.LicenseExpression(text);
  return new Models.NamedLicense(text);
}

/**
 * One component per bom-ref (the same download or file listed twice is one component): the serializer
 * would otherwise replace a repeated bom-ref with a random one.
 */
function keepFirst(components: Map<string, Models.Component>, component: Models.Component): void {
  const ref = component.bomRef.value!;
  if (!components.has(ref)) components.set(ref, component);
}
