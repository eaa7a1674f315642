/**
 * The referrers tag schema (distribution-spec 1.1), for registries without the referrers API: the
 * subject's referrers are an OCI index under the tag `<alg>-<hex>`. Writers of one tag in this process
 * go one at a time; a writer outside the process can still overwrite an entry between a read and a PUT
 * (the registry has no conditional PUT), so every write is read back and merged again until it holds.
 */
import { EksdError } from '../errors.ts';
import { OCI_INDEX, type Descriptor } from '../image/media-types.ts';
import type { RegistryClient } from './client.ts';
import { RegistryError } from './errors.ts';
import type { Manifest } from './manifests.ts';
import { Turns } from '../util/turns.ts';

/** Writes of one index before a writer that keeps losing its entries gives up. */
const MAX_INDEX_WRITES = 5;

/** 'sha256:abc' -> 'sha256-abc': characters not allowed in tags become '-', algorithm ≤32 and encoded ≤64 characters. */
export function referrersTag(digest: string): string {
  const colon = digest.indexOf(':');
  const clean = (s: string): string => s.replace(/[^a-zA-Z0-9._-]/g, '-');
  return `${clean(digest.slice(0, colon)).slice(0, 32)}-${clean(digest.slice(colon + 1)).slice(0, 64)}`;
}

/** JSON with every object's keys sorted, so the same content always has the same bytes (and digest). */
export function canonicalBytes(value: unknown): Buffer {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
  };
  return Buffer.from(JSON.stringify(sorted(value)));
}

function isReferrersIndex(m: Manifest): boolean {
  const entries = m.json.manifests;
  return m.mediaType === OCI_INDEX && Array.isArray(entries) && entries.every((d) => typeof d?.digest === 'string');
}

/** The descriptors of the index at the tag; none when the tag is absent or holds no valid index. */
export async function readTagIndex(client: RegistryClient, repo: string, tag: string): Promise<Descriptor[]> {
  let m: Manifest;
  try {
    m = await client.getManifest(repo, tag);
  } catch (e) {
    if (e instanceof RegistryError && (e.status === 404 || e.code === 'REGISTRY_MANIFEST_INVALID')) return [];
    throw e;
  }
  return isReferrersIndex(m) ? m.json.manifests ?? [] : [];
}

async function writeTagIndex(client: RegistryClient, repo: string, tag: string, manifests: Descriptor[]): Promise<void> {
  const bytes = canonicalBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
  await client.putManifest(repo, tag, bytes, OCI_INDEX);
}

/** Each (registry, repo, tag)'s writers in this process, one at a time in the order they came; dropped when idle. */
const writers = new Map<string, Turns>();

async function oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
  const turns = writers.get(key) ?? new Turns(1);
  writers.set(key, turns);
  try {
    return await turns.run(work);
  } finally {
    if (turns.inUse === 0 && turns.queued === 0) writers.delete(key);
  }
}

/**
 * Adds the descriptors missing from the index at the tag and writes it back, then reads it again: an
 * entry missing there (another writer's PUT replaced the index) is merged in and written again.
 */
export function addToTagIndex(client: RegistryClient, repo: string, tag: string, wanted: Descriptor[]): Promise<void> {
  return oneAtATime(`${client.registry}/${repo}:${tag}`, async () => {
    let current = await readTagIndex(client, repo, tag);
    for (let writes = 0; ; writes++) {
      const missing = wanted.filter((d) => !current.some((e) => e.digest === d.digest));
      if (missing.length === 0) return;
      if (writes === MAX_INDEX_WRITES) throw lost(client, repo, tag, missing, writes);
      await writeTagIndex(client, repo, tag, [...current, ...missing]);
      current = await readTagIndex(client, repo, tag);
    }
  });
}

function lost(client: RegistryClient, repo: string, tag: string, missing: Descriptor[], writes: number): EksdError {
  return new EksdError('REFERRERS_LOST',
    `the referrers index at tag ${tag} lost ${missing.map((d) => d.digest).join(', ')} again after ${writes} writes: another writer keeps replacing it`,
    { where: client.describe(repo, tag), hint: 'attach referrers of one subject from one writer at a time (the merge step of a split run), then attach again' });
}
