/**
 * Verify a Release against what is really served: every image tag resolves to the recorded imageDigest,
 * every index has exactly the platforms the asset lists, every child manifest, config and layer exists;
 * the manifest itself and every archive (both checksums) are read back from the site store and, when a
 * public URL is configured, from the public site as users will fetch them. Tags that appear late are
 * retried with backoff. Every mismatch is collected and reported, not only the first.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Release, Asset, AssetArchive } from '../release/types.ts';
import type { BundleVerifier } from '../sign/port.ts';
import { checkImageAttestations } from '../attest/check.ts';
import { isEksdError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { manifestPath } from '../release/naming.ts';
import { parseRelease, renderRelease } from '../release/manifest.ts';
import type { RegistryClient, ClientFactory } from '../registry/client.ts';
import { limiter } from '../util/limit.ts';
import { parseTagReference } from '../registry/reference.ts';
import { Watchdog } from '../registry/http.ts';
import { hashStream } from '../util/checksums.ts';
import { Memo } from '../util/memo.ts';
import type { Manifest } from '../registry/manifests.ts';

export interface VerifyOptions {
  client: ClientFactory;
  site: Store;
  siteBaseUrl: string;
  /** the public site to read the manifest and archives back from (default: none) */
  publicUrl?: string;
  /** also check that the site serves this very manifest (a release of the site, not a mirror's copy) */
  published?: boolean;
  /** Attempts for a tag that does not (yet) resolve to the recorded digest (default 5). */
  attempts?: number;
  /** First backoff delay in ms, doubled each attempt (default 1000). */
  backoffMs?: number;
  /** Check every image's signatures, SBOMs and provenance against this key or identity (attest/check.ts). */
  verifier?: BundleVerifier;
}

export interface VerifyProblem { asset: string; component: string; problem: string }

/**
 * Reads a site object back by its key, from the store or from the public site: whole (the manifest) or
 * as a stream (archives, hashed chunk by chunk and never held in memory).
 */
interface SiteReader {
  name: string;
  read: (key: string) => Promise<Buffer | undefined>;
  stream: (key: string) => Promise<AsyncIterable<Uint8Array> | undefined>;
}

/** A public site's body that stops arriving for this long fails the read (the read as a whole has no limit). */
const STALL_MS = 30_000;

export interface VerifyReport {
  release: string;
  images: number;
  manifests: number;
  blobs: number;
  archives: number;
  /** Attestations that verified (signatures, SBOMs, provenance). */
  attestations: number;
  problems: VerifyProblem[];
}

interface IndexJson { mediaType?: string; manifests?: Array<{ digest: string; platform?: { os: string; architecture: string }; annotations?: Record<string, string> }> }
interface ManifestJson { config: { digest: string }; layers: Array<{ digest: string }> }

export async function verifyRelease(release: Release, o: VerifyOptions): Promise<VerifyReport> {
  const report: VerifyReport = { release: release.metadata.name, images: 0, manifests: 0, blobs: 0, archives: 0, attestations: 0, problems: [] };
  const slot = limiter(8);
  const jobs: Promise<void>[] = [];
  const archives = (release.status.components ?? []).flatMap((c) => (c.assets ?? []).flatMap((a) => (a.archive ? [a.archive] : [])));
  for (const component of release.status.components ?? []) {
    for (const asset of component.assets ?? []) {
      const problem = (text: string) => report.problems.push({ asset: asset.name, component: component.name, problem: text });
      if (asset.type === 'Image') jobs.push(slot(() => verifyImage(asset, o, report, problem, archives)));
      else if (asset.type === 'Archive') jobs.push(slot(() => verifyArchive(asset, o, report, problem)));
    }
  }
  if (o.published) for (const reader of siteReaders(o)) jobs.push(slot(() => verifyManifestObject(release, reader, report)));
  await Promise.all(jobs);
  report.problems.sort((a, b) => `${a.component}/${a.asset}`.localeCompare(`${b.component}/${b.asset}`));
  return report;
}

async function verifyImage(asset: Asset, o: VerifyOptions, report: VerifyReport, problem: (p: string) => void, archives: AssetArchive[]): Promise<void> {
  report.images++;
  const uri = asset.image?.uri ?? '';
  const expected = asset.image?.imageDigest;
  const ref = parseTagReference(uri);
  if (!ref || !expected) { problem(`image uri '${uri}' or imageDigest is missing or not in tag form`); return; }
  const client = o.client(ref.registry);
  const { digest: actual, error } = await tagDigest(client, ref.repository, ref.tag, expected, o);
  if (actual !== expected) {
    problem(actual ? `tag ${uri} points at ${actual}, the release records ${expected}`
      : error ? `tag ${uri} could not be read: ${error}` : `tag ${uri} does not exist (the release records ${expected})`);
  }
  const index = await guard(() => servedManifest(client, ref.repository, expected), problem, `index ${expected}`);
  if (!index) return;
  report.manifests++;
  const json = index.json as IndexJson;
  if (!json.manifests) { problem(`${expected} is not an image index (${index.mediaType})`); return; }
  const platforms = json.manifests.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : 'unknown/unknown'));
  const wanted = (asset.arch ?? []).map((a) => `${asset.os ?? 'linux'}/${a}`);
  for (const p of wanted) if (!platforms.includes(p)) problem(`index ${expected} has no ${p} entry (has ${platforms.join(', ') || 'none'})`);
  for (const p of platforms) if (!wanted.includes(p)) problem(`index ${expected} has an unexpected ${p} entry`);
  await Promise.all(json.manifests.map((m) => verifyChild(client, ref.repository, m.digest, report, problem)));
  if (o.verifier) {
    const attested = await checkImageAttestations({ client, repository: ref.repository, index: { digest: expected, manifests: json.manifests },
      archives, verifier: o.verifier, problem });
    report.attestations += attested;
  }
}

async function verifyChild(client: RegistryClient, repository: string, digest: string, report: VerifyReport, problem: (p: string) => void): Promise<void> {
  const child = await guard(() => servedManifest(client, repository, digest), problem, `manifest ${digest}`);
  if (!child) return;
  report.manifests++;
  const json = child.json as ManifestJson;
  const blobs = [json.config.digest, ...json.layers.map((l) => l.digest)];
  await Promise.all(blobs.map(async (blob) => {
    const size = await guard(() => servedBlob(client, repository, blob), problem, `blob ${blob}`);
    report.blobs++;
    if (size === undefined) problem(`blob ${blob} of manifest ${digest} is missing from ${repository}`);
  }));
}

/**
 * Manifests and blobs by digest as verify read them back: content-addressed, so what one verify of this
 * process found served (channels of one run list the same images) is not read again. What was not found
 * is never kept; tags are always read.
 */
const readBack = { manifests: new Memo<Manifest>(), blobs: new Memo<number | undefined>() };

function servedManifest(client: RegistryClient, repository: string, digest: string): Promise<Manifest> {
  return readBack.manifests.get(`${client.registry}/${repository}@${digest}`, () => client.getManifest(repository, digest));
}

function servedBlob(client: RegistryClient, repository: string, digest: string): Promise<number | undefined> {
  return readBack.blobs.get(`${client.registry}/${repository}@${digest}`, () => client.headBlob(repository, digest), (size) => size !== undefined);
}

/** The digest a tag resolves to (or why it could not be read), retried with backoff while it differs from what is expected. */
async function tagDigest(client: RegistryClient, repository: string, tag: string, expected: string, o: VerifyOptions): Promise<{ digest?: string; error?: string }> {
  const attempts = o.attempts ?? 5;
  let delay = o.backoffMs ?? 1000;
  let last: { digest?: string; error?: string } = {};
  for (let i = 0; i < attempts; i++) {
    last = await client.headManifest(repository, tag).then((h) => (h ? { digest: h.digest } : {}), (e: unknown) => ({ error: (e as Error).message }));
    if (last.digest === expected) return last;
    if (i < attempts - 1) { await new Promise((r) => setTimeout(r, delay)); delay *= 2; }
  }
  return last;
}

function siteReaders(o: VerifyOptions): SiteReader[] {
  const readers: SiteReader[] = [{
    name: `the site store (${o.site.where('')})`,
    read: async (key) => (await o.site.get(key))?.bytes,
    stream: (key) => o.site.read(key),
  }];
  if (o.publicUrl) {
    const base = o.publicUrl.replace(/\/+$/, '');
    readers.push({
      name: `the public site (${base})`,
      read: async (key) => { const body = await fetchStream(`${base}/${key}`); return body && collect(body); },
      stream: (key) => fetchStream(`${base}/${key}`),
    });
  }
  return readers;
}

/** The body of a public URL as a stream, undefined for 404 and 403; fails when no byte comes for STALL_MS. */
async function fetchStream(url: string): Promise<AsyncIterable<Uint8Array> | undefined> {
  const wd = new Watchdog(STALL_MS, `GET ${url}`);
  try {
    const res = await fetch(url, { signal: wd.signal, cache: 'no-store' });
    if (res.status === 404 || res.status === 403) { await res.body?.cancel(); wd.stop(); return undefined; }
    if (!res.ok) { await res.body?.cancel(); throw new Error(`HTTP ${res.status} ${res.statusText}`); }
    if (!res.body) { wd.stop(); return Readable.from([]); }
    return watched(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), wd);
  } catch (e) {
    wd.stop();
    throw e;
  }
}

/** The body's chunks, each one kicking the watchdog, which stops with the body. */
async function* watched(body: AsyncIterable<Uint8Array>, wd: Watchdog): AsyncIterable<Uint8Array> {
  try {
    for await (const chunk of body) {
      wd.kick();
      yield chunk;
    }
  } finally {
    wd.stop();
  }
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The manifest as published is the one being verified. */
async function verifyManifestObject(release: Release, reader: SiteReader, report: VerifyReport): Promise<void> {
  const key = manifestPath(release.spec.channel, release.spec.number);
  const problem = (text: string) => report.problems.push({ asset: 'manifest', component: 'release', problem: text });
  const bytes = await guard(() => reader.read(key), problem, `${key} from ${reader.name}`);
  if (bytes === undefined) { problem(`${key} is not readable from ${reader.name}`); return; }
  let published: Release;
  try { published = parseRelease(bytes.toString('utf8'), key); } catch (e) { problem(`${key} from ${reader.name} is not a valid Release: ${(e as Error).message}`); return; }
  if (renderRelease(published) !== renderRelease(release)) problem(`${key} from ${reader.name} differs from the release being verified`);
}

async function verifyArchive(asset: Asset, o: VerifyOptions, report: VerifyReport, problem: (p: string) => void): Promise<void> {
  report.archives++;
  const a = asset.archive;
  if (!a?.uri || !a.sha256 || !a.sha512) { problem('archive uri, sha256 or sha512 is missing'); return; }
  const base = o.siteBaseUrl.replace(/\/+$/, '');
  if (!a.uri.startsWith(`${base}/`)) { problem(`archive uri ${a.uri} is not under the site ${base}`); return; }
  const key = a.uri.slice(base.length + 1);
  for (const reader of siteReaders(o)) {
    const what = `archive ${a.uri} from ${reader.name}`;
    const body = await guard(() => reader.stream(key), problem, what);
    if (body === undefined) { problem(`archive ${a.uri} is missing from ${reader.name}`); continue; }
    const sums = await guard(() => hashStream(body), problem, what);
    if (sums === undefined) continue;
    const { sha256, sha512 } = sums;
    if (sha256 !== a.sha256) problem(`archive ${a.uri} from ${reader.name} has sha256 ${sha256}, the release records ${a.sha256}`);
    if (sha512 !== a.sha512) problem(`archive ${a.uri} from ${reader.name} has sha512 ${sha512.slice(0, 16)}..., the release records ${a.sha512.slice(0, 16)}...`);
  }
}

async function guard<T>(work: () => Promise<T>, problem: (p: string) => void, what: string): Promise<T | undefined> {
  try {
    return await work();
  } catch (e) {
    problem(`${what}: ${isEksdError(e) ? e.message : (e as Error).message}`);
    return undefined;
  }
}
