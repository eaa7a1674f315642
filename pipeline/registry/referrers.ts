/**
 * OCI 1.1 referrers: artifact manifests (an SBOM, a signature) attached to a subject by digest, through
 * the referrers API where the registry has one (it answers a PUT with OCI-Subject) and through the
 * referrers tag schema (referrers-index.ts) where it does not; listing them, and copying them along.
 */
import { Memo } from '../util/memo.ts';
import { digestOf } from '../image/digest.ts';
import { isForeignLayer, OCI_EMPTY_DESCRIPTOR, OCI_EMPTY_DIGEST, OCI_MANIFEST, type Descriptor, type ManifestJson } from '../image/media-types.ts';
import type { PushedBlob, RegistryClient } from './client.ts';
import { copy, copyBlob, type BlobPlace } from './copy.ts';
import { addToTagIndex, canonicalBytes, readTagIndex, referrersTag } from './referrers-index.ts';

export { referrersTag } from './referrers-index.ts';

/** One document attached to a subject: a single layer of `mediaType`. */
export interface Artifact {
  artifactType: string;
  /** The one layer's media type. */
  mediaType: string;
  bytes: Buffer;
  annotations: Record<string, string>;
  /** Bytes nobody can have pushed yet (a bundle with a new signature): uploaded without asking first. */
  fresh?: boolean;
}

const EMPTY_BYTES = Buffer.from('{}');

/** The descriptor a referrers index lists for a manifest: its artifactType (else its config's media type) and annotations. */
function referrerDescriptor(bytes: Buffer, json: ManifestJson): Descriptor {
  const artifactType = json.artifactType ?? json.config?.mediaType;
  const annotations = json.annotations ?? {};
  return {
    mediaType: json.mediaType ?? OCI_MANIFEST, digest: digestOf(bytes), size: bytes.length,
    ...(artifactType === undefined ? {} : { artifactType }),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}

/** The OCI image manifest of an artifact: empty config, the artifact as its one layer, the subject; canonical bytes. */
export function artifactManifest(subject: Descriptor, a: Artifact): { bytes: Buffer; descriptor: Descriptor } {
  const json: ManifestJson = {
    schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: a.artifactType,
    config: { ...OCI_EMPTY_DESCRIPTOR },
    layers: [{ mediaType: a.mediaType, digest: digestOf(a.bytes), size: a.bytes.length }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(Object.keys(a.annotations).length > 0 ? { annotations: a.annotations } : {}),
  };
  const bytes = canonicalBytes(json);
  return { bytes, descriptor: referrerDescriptor(bytes, json) };
}

/** Blob pushes by registry, repository and digest, shared by every client of this process; a failed one is forgotten. */
const blobPushes = new Memo<PushedBlob>();

/**
 * Pushes a small blob once per process and repository: clients pushing one blob into one repository at
 * once would rewrite its link while the other's manifest PUT reads it (see RegistryClient.pushBlob).
 */
function pushOnce(client: RegistryClient, repo: string, bytes: Buffer, fresh = false): Promise<PushedBlob> {
  const digest = digestOf(bytes);
  return blobPushes.get(`${client.registry}/${repo}@${digest}`, () => client.pushBlob(repo, bytes, { digest, size: bytes.length, ...(fresh ? { fresh } : {}) }));
}

/** PUTs referrers by digest; registers in the tag schema, in one write, those the registry did not answer with OCI-Subject. */
async function publishReferrers(client: RegistryClient, repo: string, subjectDigest: string, manifests: Array<{ bytes: Buffer; descriptor: Descriptor }>): Promise<'api' | 'tag'> {
  const puts = await Promise.all(manifests.map((m) => client.putManifestWithSubject(repo, m.descriptor.digest, m.bytes, m.descriptor.mediaType)));
  const unlisted = manifests.filter((_, i) => puts[i]!.subject !== subjectDigest).map((m) => m.descriptor);
  if (unlisted.length === 0) return 'api';
  await addToTagIndex(client, repo, referrersTag(subjectDigest), unlisted);
  return 'tag';
}

/** Attaches the artifact to the subject (which need not exist yet): blobs, the manifest by digest, the tag index when needed. */
export async function attach(client: RegistryClient, repo: string, subject: Descriptor, a: Artifact): Promise<{ manifest: Descriptor; via: 'api' | 'tag' }> {
  const { manifests, via } = await attachAll(client, repo, subject, [a]);
  return { manifest: manifests[0]!, via };
}

/** Attaches several artifacts to one subject at once: their blobs and manifests in parallel, one tag index write. */
export async function attachAll(client: RegistryClient, repo: string, subject: Descriptor, artifacts: Artifact[]): Promise<{ manifests: Descriptor[]; via: 'api' | 'tag' }> {
  const made = artifacts.map((a) => artifactManifest(subject, a));
  await Promise.all([pushOnce(client, repo, EMPTY_BYTES), ...artifacts.map((a) => pushOnce(client, repo, a.bytes, a.fresh))]);
  return { manifests: made.map((m) => m.descriptor), via: await publishReferrers(client, repo, subject.digest, made) };
}

/** The subject's referrers: the referrers API, else the tag schema; only those of `artifactType` when given. */
export async function referrers(client: RegistryClient, repo: string, subjectDigest: string, artifactType?: string): Promise<Descriptor[]> {
  const api = await client.getReferrers(repo, subjectDigest, artifactType);
  const listed = api?.manifests ?? await readTagIndex(client, repo, referrersTag(subjectDigest));
  return artifactType === undefined || api?.filtered ? listed : listed.filter((d) => d.artifactType === artifactType);
}

/** Copies what a referrer's manifest refers to: child manifests of an index, else its config and layers. */
async function copyContent(from: BlobPlace, to: BlobPlace, json: ManifestJson): Promise<void> {
  if (Array.isArray(json.manifests)) {
    await Promise.all(json.manifests.map((child) => copy({ from: { ...from, ref: child.digest }, to })));
    return;
  }
  const blobs = [json.config, ...(json.layers ?? [])].filter((d): d is Descriptor => d !== undefined && !isForeignLayer(d.mediaType));
  await Promise.all(blobs.map((d) => d.digest === OCI_EMPTY_DIGEST ? pushOnce(to.client, to.repo, EMPTY_BYTES) : copyBlob(from, to, d)));
}

/**
 * Copies every referrer of the subject that the destination does not list yet (its exact bytes, so
 * digests are kept), attached there by the same rules as attach (the tag schema keeps the source's
 * order); returns how many were copied.
 */
export async function copyReferrers(from: BlobPlace, to: BlobPlace, subjectDigest: string): Promise<number> {
  const [listed, present] = await Promise.all([
    referrers(from.client, from.repo, subjectDigest),
    referrers(to.client, to.repo, subjectDigest),
  ]);
  const missing = [...new Map(listed.map((d) => [d.digest, d])).values()].filter((d) => !present.some((p) => p.digest === d.digest));
  const fetched = await Promise.all(missing.map(async (d) => {
    const m = await from.client.getManifest(from.repo, d.digest);
    await copyContent(from, to, m.json);
    return m;
  }));
  if (fetched.length > 0) await publishReferrers(to.client, to.repo, subjectDigest, fetched.map((m) => ({ bytes: m.bytes, descriptor: referrerDescriptor(m.bytes, m.json) })));
  return missing.length;
}
