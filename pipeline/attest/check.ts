/**
 * Checks what is attached to one released image: its index and each platform manifest must have the
 * statements it must have, each in a Sigstore bundle among its referrers that verifies against the
 * configured key or identity and is about that digest: a signature (index and platforms), an SBOM and
 * a provenance statement (platforms). Provenance must agree with the Release manifest (each artifact it
 * names with the archive's checksums) and with the index (the parent digest its entry records).
 */
import { Memo } from '../util/memo.ts';
import { ANNOTATION } from '../image/annotations.ts';
import { parseBuildInputs } from '../image/keys.ts';
import type { AssetArchive } from '../release/types.ts';
import type { RegistryClient } from '../registry/client.ts';
import { referrers } from '../registry/referrers.ts';
import { BUNDLE_MEDIA_TYPE, type BundleVerifier, type Verified } from '../sign/port.ts';
import { kindOf, PREDICATE, type PredicateKind } from './statement.ts';
import { PARENT_DEPENDENCY } from './provenance.ts';

/** The annotation naming a bundle's predicate (cosign writes it; the referrers index carries it). */
export const PREDICATE_ANNOTATION = 'dev.sigstore.bundle.predicateType';

export interface IndexEntry { digest: string; platform?: { os: string; architecture: string }; annotations?: Record<string, string> }

export interface CheckInput {
  client: RegistryClient;
  repository: string;
  index: { digest: string; manifests: IndexEntry[] };
  /** Every archive of the release, to compare provenance's artifacts with. */
  archives: AssetArchive[];
  verifier: BundleVerifier;
  problem(text: string): void;
}

const WORDS: Record<PredicateKind, string> = { sign: 'signature', sbom: 'SBOM', provenance: 'provenance statement' };

/**
 * Checks the index and every platform manifest; returns how many attestations verified. A kind is there
 * when one bundle of it verifies and is about the image (as cosign reads them: a bundle of an earlier key
 * beside it does not fail the image); when none is, the bundles that were rejected say why.
 */
export async function checkImageAttestations(c: CheckInput): Promise<number> {
  const subjects = [{ digest: c.index.digest, what: `index ${c.index.digest}`, kinds: ['sign'] as PredicateKind[], entry: undefined as IndexEntry | undefined },
    ...c.index.manifests.map((m) => ({ digest: m.digest, what: `${platformOf(m)} manifest ${m.digest}`, kinds: ['sign', 'sbom', 'provenance'] as PredicateKind[], entry: m }))];
  const counts = await Promise.all(subjects.map(async (s) => {
    const { found, rejected } = await statementsAbout(c, s.digest, s.what);
    for (const kind of s.kinds) {
      if (found.get(kind)?.length) continue;
      const why = rejected.get(kind) ?? rejected.get(undefined) ?? [];
      c.problem(why.length ? `${s.what}: no valid ${WORDS[kind]}: ${why.join('; ')}`
        : `${s.what}: no ${WORDS[kind]} is attached (looked for a Sigstore bundle with predicate ${PREDICATE[kind]} among its referrers)`);
    }
    if (s.entry) for (const provenance of found.get('provenance') ?? []) checkProvenance(provenance, s.entry, s.what, c);
    return [...found.values()].reduce((n, list) => n + list.length, 0);
  }));
  return counts.reduce((a, b) => a + b, 0);
}

interface Statements { found: Map<PredicateKind, Verified[]>; rejected: Map<PredicateKind | undefined, string[]> }

/** The subject's bundles that verify and are about it, by kind; why each other one was rejected, by the kind its annotation names. */
async function statementsAbout(c: CheckInput, digest: string, what: string): Promise<Statements> {
  const out: Statements = { found: new Map(), rejected: new Map() };
  const add = <K, V>(m: Map<K, V[]>, k: K, v: V) => m.set(k, [...(m.get(k) ?? []), v]);
  const listed = await guarded(() => referrers(c.client, c.repository, digest, BUNDLE_MEDIA_TYPE), c, `${what}: its referrers could not be read`);
  for (const d of listed ?? []) {
    const annotated = kindOf(d.annotations?.[PREDICATE_ANNOTATION]);
    let verified: Verified;
    try { verified = await readBundle(c.client, c.repository, d.digest, c.verifier); } catch (e) {
      add(out.rejected, annotated, `the attached bundle ${d.digest} ${(e as Error).message}`);
      continue;
    }
    const kind = kindOf(verified.statement.predicateType);
    if (!isAbout(verified.statement, digest)) {
      const about = verified.statement.subject.map((x) => (x.digest.sha256 ? `sha256:${x.digest.sha256}` : '?')).join(', ');
      add(out.rejected, kind ?? annotated, `the attached ${kind ? WORDS[kind] : 'statement'} (${d.digest}) is about ${about || 'no digest'}, not this image`);
    } else if (kind) add(out.found, kind, verified);
  }
  return out;
}

/**
 * The bundle an artifact manifest carries, verified. An artifact manifest is content-addressed, so one read
 * and verified by this process (by an earlier channel's verify, or by the attest stage finding it) is not
 * read again for the same verifier; a failure is never kept.
 */
export function readBundle(client: RegistryClient, repository: string, manifestDigest: string, verifier: BundleVerifier): Promise<Verified> {
  return verifiedBundles.get(`${verifier.describe}\n${client.registry}/${repository}@${manifestDigest}`,
    () => fetchAndVerify(client, repository, manifestDigest, verifier));
}

const verifiedBundles = new Memo<Verified>();

async function fetchAndVerify(client: RegistryClient, repository: string, manifestDigest: string, verifier: BundleVerifier): Promise<Verified> {
  const manifest = await client.getManifest(repository, manifestDigest);
  const layer = (manifest.json as { layers?: Array<{ digest: string; mediaType: string }> }).layers?.find((l) => l.mediaType === BUNDLE_MEDIA_TYPE);
  if (!layer) throw new Error('has no bundle layer');
  return verifier.verify(await client.getBlob(repository, layer.digest));
}

/** Whether a statement is about this digest. */
export function isAbout(statement: Verified['statement'], digest: string): boolean {
  return statement.subject.some((s) => s.digest.sha256 !== undefined && `sha256:${s.digest.sha256}` === digest);
}

interface Dependency { uri?: string; name?: string; digest?: Record<string, string> }

function checkProvenance(v: Verified, entry: IndexEntry, what: string, c: CheckInput): void {
  const deps = ((v.statement.predicate as { buildDefinition?: { resolvedDependencies?: Dependency[] } })?.buildDefinition?.resolvedDependencies) ?? [];
  for (const dep of deps) {
    const archive = dep.name ? c.archives.find((a) => a.uri.endsWith(`/${dep.name}`)) : undefined;
    if (!archive) continue;
    if (dep.digest?.sha256 !== archive.sha256 || dep.digest?.sha512 !== archive.sha512) {
      c.problem(`${what}: provenance names ${dep.name} with sha256 ${dep.digest?.sha256 ?? 'none'}, the Release manifest's archive ${archive.uri} has ${archive.sha256}`);
    }
  }
  const parent = parentOf(entry);
  const named = deps.find((d) => d.name === PARENT_DEPENDENCY);
  if (parent && `sha256:${named?.digest?.sha256 ?? ''}` !== parent) {
    c.problem(`${what}: provenance names the parent ${named?.digest?.sha256 ? `sha256:${named.digest.sha256}` : '(none)'}, the index records ${parent}`);
  }
}

/** The parent digest the index entry's build inputs record. */
function parentOf(entry: IndexEntry): string | undefined {
  return parseBuildInputs(entry.annotations?.[ANNOTATION.buildInputs])?.from;
}

function platformOf(m: IndexEntry): string {
  return m.platform ? `${m.platform.os}/${m.platform.architecture}` : 'unknown';
}

async function guarded<T>(f: () => Promise<T>, c: CheckInput, what: string): Promise<T | undefined> {
  try { return await f(); } catch (e) { c.problem(`${what}: ${(e as Error).message}`); return undefined; }
}
