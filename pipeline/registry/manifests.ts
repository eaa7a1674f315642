import { algorithmOf, digestOf, matchesDigest } from '../image/digest.ts';
import { clientError, digestMismatchError, type RequestContext } from './errors.ts';
import { bareMediaType, MANIFEST_ACCEPT, OCI_INDEX, type Descriptor, type ManifestJson } from '../image/media-types.ts';
import { isDigest } from './reference.ts';
import { scopeFor } from './scopes.ts';
import { readBody, type Transport } from './transport.ts';

/** Registries cap manifests at a few MiB; so do we. */
const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;

export interface ManifestHead {
  mediaType: string;
  digest: string;
  size: number;
}

export interface Manifest {
  /** The exact bytes the registry returned; push these to keep the digest. */
  bytes: Buffer;
  mediaType: string;
  digest: string;
  json: ManifestJson;
}

const path = (repo: string, ref: string): string => `/v2/${repo}/manifests/${ref}`;

function ctxOf(t: Transport, repository: string, reference: string, operation: string): RequestContext {
  return { registry: t.o.registry, repository, reference, operation };
}

/** The manifest's media type, digest and size, or undefined when the registry has no such manifest. */
export async function headManifest(t: Transport, repo: string, ref: string): Promise<ManifestHead | undefined> {
  const ctx = ctxOf(t, repo, ref, 'head manifest');
  const head = await t.request({ method: 'HEAD', url: path(repo, ref), ctx, scopes: scopeFor(repo, 'pull'),
    headers: { accept: MANIFEST_ACCEPT }, expect: [200, 404] }, async (res) => res.status === 404 ? undefined : {
    mediaType: bareMediaType(res.headers.get('content-type')) ?? '',
    digest: res.headers.get('docker-content-digest') ?? (isDigest(ref) ? ref : ''),
    size: Number(res.headers.get('content-length') ?? -1),
  });
  if (head === undefined || (head.digest !== '' && head.size >= 0 && head.mediaType !== '')) return head;
  const m = await getManifest(t, repo, ref);
  return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
}

function parseJson(bytes: Buffer, ctx: RequestContext): ManifestJson {
  try {
    return JSON.parse(bytes.toString('utf8')) as ManifestJson;
  } catch {
    throw clientError(ctx, 'MANIFEST_INVALID', 'the registry returned a manifest that is not JSON');
  }
}

/** Checks the bytes against the digest they were fetched by, or against Docker-Content-Digest. */
export function verifyManifestDigest(bytes: Buffer, ref: string, header: string | null, ctx: RequestContext): string {
  const expected = isDigest(ref) ? ref : header ?? undefined;
  const actual = digestOf(bytes, algorithmOf(expected ?? 'sha256'));
  if (expected !== undefined && actual !== expected) throw digestMismatchError(ctx, expected, actual);
  return isDigest(ref) ? ref : digestOf(bytes);
}

/** The manifest's exact bytes, media type, verified digest and parsed JSON. */
export function getManifest(t: Transport, repo: string, ref: string): Promise<Manifest> {
  const ctx = ctxOf(t, repo, ref, 'get manifest');
  return t.request({ method: 'GET', url: path(repo, ref), ctx, scopes: scopeFor(repo, 'pull'),
    headers: { accept: MANIFEST_ACCEPT }, expect: [200] }, async (res, wd) => {
    const bytes = await readBody(res, wd, ctx, MAX_MANIFEST_BYTES);
    const digest = verifyManifestDigest(bytes, ref, res.headers.get('docker-content-digest'), ctx);
    const json = parseJson(bytes, ctx);
    const mediaType = json.mediaType ?? bareMediaType(res.headers.get('content-type'));
    if (!mediaType) throw clientError(ctx, 'MANIFEST_INVALID', 'the manifest has no media type');
    return { bytes, mediaType, digest, json };
  });
}

/** Pushes the exact bytes under a tag or digest; returns the digest, checked against the registry's. */
export async function putManifest(t: Transport, repo: string, ref: string, bytes: Uint8Array, mediaType: string): Promise<string> {
  return (await putManifestWithSubject(t, repo, ref, bytes, mediaType)).digest;
}

/**
 * putManifest that also returns the reply's OCI-Subject header: a registry with the referrers API
 * names the manifest's subject there (distribution-spec 1.1); one without it sends nothing.
 */
export async function putManifestWithSubject(t: Transport, repo: string, ref: string, bytes: Uint8Array, mediaType: string): Promise<{ digest: string; subject?: string }> {
  const ctx = ctxOf(t, repo, ref, 'put manifest');
  const digest = digestOf(bytes);
  if (isDigest(ref) && !matchesDigest(bytes, ref)) throw digestMismatchError(ctx, ref, digestOf(bytes, algorithmOf(ref)));
  const body = new Uint8Array(bytes);
  return t.request({ method: 'PUT', url: path(repo, ref), ctx, scopes: scopeFor(repo, 'push', 'pull'),
    headers: { 'content-type': mediaType }, body: () => body, expect: [200, 201, 202] }, async (res) => {
    await res.arrayBuffer();
    const echoed = res.headers.get('docker-content-digest');
    if (echoed !== null && echoed !== digest) {
      throw clientError(ctx, 'DIGEST_MISMATCH', `the registry stored the manifest as ${echoed}, expected ${digest}`,
        'the registry changed the manifest bytes; push OCI or schema 2 manifests with a top-level mediaType');
    }
    const subject = res.headers.get('oci-subject');
    return subject === null ? { digest } : { digest, subject };
  });
}

/**
 * The referrers API (`GET /v2/<repo>/referrers/<digest>`): the index's descriptors, and whether the
 * registry filtered them by artifactType (OCI-Filters-Applied); undefined when the registry answers 404
 * (it has no referrers API: read the tag schema instead).
 */
export function getReferrers(t: Transport, repo: string, digest: string, artifactType?: string): Promise<{ manifests: Descriptor[]; filtered: boolean } | undefined> {
  const ctx = ctxOf(t, repo, digest, 'get referrers of');
  const query = artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(artifactType)}`;
  return t.request({ method: 'GET', url: `/v2/${repo}/referrers/${digest}${query}`, ctx, scopes: scopeFor(repo, 'pull'),
    headers: { accept: OCI_INDEX }, expect: [200, 404] }, async (res, wd) => {
    if (res.status === 404) { await res.arrayBuffer(); return undefined; }
    const json = parseJson(await readBody(res, wd, ctx, MAX_MANIFEST_BYTES), ctx);
    if (!Array.isArray(json.manifests)) throw clientError(ctx, 'MANIFEST_INVALID', 'the referrers answer is not an image index');
    const filters = (res.headers.get('oci-filters-applied') ?? '').split(',').map((f) => f.trim());
    return { manifests: json.manifests, filtered: artifactType !== undefined && filters.includes('artifactType') };
  });
}

/** Deletes a manifest by digest (the registry must allow deletes). */
export async function deleteManifest(t: Transport, repo: string, digest: string): Promise<void> {
  const ctx = ctxOf(t, repo, digest, 'delete manifest');
  await t.request({ method: 'DELETE', url: path(repo, digest), ctx, scopes: scopeFor(repo, 'delete'),
    expect: [200, 202] }, async (res) => { await res.arrayBuffer(); });
}

/** The next page URL from a Link header: `</v2/x/tags/list?last=a&n=2>; rel="next"`. */
export function nextLink(link: string | null): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;(?:.*;)?\s*rel="?next"?/i.exec(part);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

/** Every tag of the repository, following Link pagination with pages of `pageSize`. */
export async function listTags(t: Transport, repo: string, pageSize?: number): Promise<string[]> {
  const ctx = ctxOf(t, repo, '', 'list tags');
  const tags: string[] = [];
  let url: string | undefined = `/v2/${repo}/tags/list${pageSize ? `?n=${pageSize}` : ''}`;
  for (let pages = 0; url !== undefined; pages++) {
    if (pages > 100_000) throw clientError(ctx, 'UNSUPPORTED', 'tag pagination does not end');
    const page: { tags: string[]; next: string | undefined } = await t.request({ method: 'GET', url, ctx,
      scopes: scopeFor(repo, 'pull'), expect: [200] }, async (res, wd) => {
      const body = JSON.parse((await readBody(res, wd, ctx)).toString('utf8')) as { tags?: string[] | null };
      return { tags: body.tags ?? [], next: nextLink(res.headers.get('link')) };
    });
    tags.push(...page.tags);
    url = page.next;
  }
  return tags;
}
