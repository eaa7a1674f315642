import type { PushBlobOptions, PushedBlob, RegistryClient } from './client.ts';
import { clientError } from './errors.ts';
import { isForeignLayer, type Descriptor } from '../image/media-types.ts';
import type { Manifest } from './manifests.ts';
import { validateTag } from './reference.ts';

/** Counters a copy fills in as it goes. */
export interface CopyStats {
  blobsUploaded: number;
  blobsMounted: number;
  blobsExisting: number;
  bytesUploaded: number;
  manifestsPushed: number;
  manifestsExisting: number;
  tagsPushed: number;
  tagsUnchanged: number;
}

export function emptyCopyStats(): CopyStats {
  return { blobsUploaded: 0, blobsMounted: 0, blobsExisting: 0, bytesUploaded: 0, manifestsPushed: 0, manifestsExisting: 0, tagsPushed: 0, tagsUnchanged: 0 };
}

/** What the destination allows: cross-repository mounts, and a pace for mounts and uploads. */
export interface TransferPolicy {
  crossRepoMount: boolean;
  pace?: PushBlobOptions['pace'];
}

export const UNRESTRICTED: TransferPolicy = { crossRepoMount: true };

export interface BlobPlace { client: RegistryClient; repo: string }

export interface CopyOptions {
  from: BlobPlace & { ref: string };
  to: BlobPlace;
  policy?: TransferPolicy;
  /** Tags to point at the copied image or index in the destination, after everything else is there. */
  tags?: string[];
  stats?: CopyStats;
}

interface Job {
  o: CopyOptions;
  stats: CopyStats;
}

function countBlob(stats: CopyStats, r: PushedBlob): void {
  if (r.status === 'uploaded') { stats.blobsUploaded++; stats.bytesUploaded += r.size; }
  else if (r.status === 'mounted') stats.blobsMounted++;
  else stats.blobsExisting++;
}

/**
 * Makes one blob available in `to`: already there, mounted within one registry (when the policy allows),
 * or streamed across; mounts and uploads take their turn of the policy's pace.
 */
export function copyBlob(from: BlobPlace, to: BlobPlace, d: Descriptor, policy: TransferPolicy = UNRESTRICTED): Promise<PushedBlob> {
  const mount = policy.crossRepoMount && from.client.registry === to.client.registry && from.repo !== to.repo;
  const source = { open: (onChunk?: () => void) => from.client.getBlobStream(from.repo, d.digest, onChunk) };
  return to.client.pushBlob(to.repo, source, {
    digest: d.digest, size: d.size, ...(mount ? { mountFrom: from.repo } : {}), ...(policy.pace ? { pace: policy.pace } : {}),
  });
}

/** Copies one manifest (by digest) and everything under it, children first; skips what the destination has. */
async function copyTree(job: Job, digest: string, fetched?: Manifest): Promise<void> {
  const { from, to } = job.o;
  if (await to.client.headManifest(to.repo, digest)) { job.stats.manifestsExisting++; return; }
  const m = fetched ?? await from.client.getManifest(from.repo, digest);
  if (Array.isArray(m.json.manifests)) {
    await Promise.all(m.json.manifests.map((child) => copyTree(job, child.digest)));
  } else {
    const blobs = [m.json.config, ...(m.json.layers ?? [])].filter((d): d is Descriptor => d !== undefined && !isForeignLayer(d.mediaType));
    await Promise.all(blobs.map(async (d) => countBlob(job.stats, await copyBlob(from, to, d, job.o.policy))));
  }
  await to.client.putManifest(to.repo, m.digest, m.bytes, m.mediaType);
  job.stats.manifestsPushed++;
}

async function pointTag(job: Job, m: Manifest, tag: string): Promise<void> {
  const { to } = job.o;
  const head = await to.client.headManifest(to.repo, tag);
  if (head?.digest === m.digest) { job.stats.tagsUnchanged++; return; }
  await to.client.putManifest(to.repo, tag, m.bytes, m.mediaType);
  job.stats.tagsPushed++;
}

/**
 * Copies an image or a whole index with its exact bytes (so digests are kept): blobs (mounted when both
 * sides are one registry), child manifests by digest, the top manifest by digest, then the tags. Anything
 * the destination already has is skipped. Returns the digest of the copied manifest.
 */
export async function copy(o: CopyOptions): Promise<string> {
  const tags = o.tags ?? [];
  for (const tag of tags) {
    const problem = validateTag(tag);
    if (problem) throw clientError({ registry: o.to.client.registry, repository: o.to.repo, reference: tag, operation: 'copy to' }, 'INVALID_ARGUMENT', problem);
  }
  const job: Job = { o, stats: o.stats ?? emptyCopyStats() };
  const top = await o.from.client.getManifest(o.from.repo, o.from.ref);
  await copyTree(job, top.digest, top);
  for (const tag of tags) await pointTag(job, top, tag);
  return top.digest;
}
