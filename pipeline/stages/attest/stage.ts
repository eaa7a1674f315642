/**
 * The attest stage: for every image of the release, a signature for its index, and a signature, an SBOM
 * and a provenance statement for each platform manifest, each a Sigstore bundle attached to its subject
 * by digest (registry/referrers.ts: the referrers API, or the tag schema). A subject that already has a
 * statement of a kind that verifies (an image reused from an earlier release, a resumed run) gets no new
 * one: a base update adds documents only for the new digests.
 */
import { hostname } from 'node:os';
import type { Platform } from '../../config/config.ts';
import { attachAll, referrers } from '../../registry/referrers.ts';
import type { RegistryClient } from '../../registry/client.ts';
import { BUNDLE_MEDIA_TYPE, type BundleVerifier, type Signer, type SignedBundle } from '../../sign/port.ts';
import { makeSbom } from '../../attest/sbom.ts';
import { makeProvenance, runDetailsFrom } from '../../attest/provenance.ts';
import { kindOf, PREDICATE, signStatement, statement, type PredicateKind, type Statement } from '../../attest/statement.ts';
import type { Descriptor } from '../../image/media-types.ts';
import { limiter } from '../../util/limit.ts';
import { Memo } from '../../util/memo.ts';
import type { AttestedSubject, ReleaseAttestations } from '../../release/attestations.ts';
import { imageAssetName } from '../../release/naming.ts';
import type { StageTools } from '../stage.ts';
import type { PublishedImage } from '../images/published.ts';
import { platformFacts, type ReleaseFacts } from './facts.ts';
import { isAbout, PREDICATE_ANNOTATION, readBundle } from '../../attest/check.ts';

/** What signs the statements, and what checks them. */
export interface Signing { signer: Signer; verifier: BundleVerifier }

/** What a release run attests with: the signing, and what provenance says of the run's inputs (the same for every channel). */
export interface Attesting extends Signing {
  /** The digest of the catalog's files (plan/plan-id.ts catalogDigest). */
  catalogDigest: string;
  /** The plan id of the run's inputs: a merge's, or computed as split jobs compute it. */
  planId?: string;
}

/** By subject digest: the artifact manifest of each statement attached to it. */
export type AttestRecord = Record<string, Partial<Record<PredicateKind, string>>>;

export interface AttestInput {
  images: PublishedImage[];
  facts: ReleaseFacts;
  signer: Signer;
  verifier: BundleVerifier;
  /** When the run started (provenance's runDetails). */
  startedOn: string;
}

interface Subject { client: RegistryClient; repository: string; descriptor: Descriptor; kinds: PredicateKind[];
  statementOf(kind: PredicateKind): Promise<Statement>; what: string }

/**
 * What the registry lists is the truth, also for a resumed run: each subject's statements are looked up
 * (and verified) again, never taken from the journal, so one lost since, or made with another key, is made anew.
 */
export async function attestImages(input: AttestInput, tools: Pick<StageTools<AttestRecord>, 'emit'>): Promise<AttestRecord> {
  const record: AttestRecord = {};
  const subjects = input.images.flatMap((img) => subjectsOf(img, input));
  const slot = limiter(8);
  let attached = 0;
  await Promise.all(subjects.map((s) => slot(async () => {
    const { statements, made } = await once(s, () => attestSubject(s, input));
    attached += made;
    record[s.descriptor.digest] = statements;
  })));
  tools.emit({ type: 'info', message: `attestations: ${attached} attached, ${subjects.length} subjects signed` });
  return record;
}

function subjectsOf(img: PublishedImage, input: AttestInput): Subject[] {
  const client = input.facts.clients(img.plan.registry);
  const name = `${img.plan.registry}/${img.plan.repository}`;
  const base = { client, repository: img.plan.repository };
  const index: Subject = { ...base, descriptor: img.index, kinds: ['sign'], what: `${img.plan.name} index`,
    statementOf: async () => signStatement({ name, digest: img.index.digest }) };
  const platforms = (Object.entries(img.platforms) as Array<[Platform, NonNullable<PublishedImage['platforms'][Platform]>]>).map(([platform, r]): Subject => {
    let facts: ReturnType<typeof platformFacts> | undefined;
    const factsOnce = () => (facts ??= platformFacts(input.facts, img.plan, platform, r));
    return { ...base, descriptor: r.manifest, kinds: ['sign', 'sbom', 'provenance'], what: `${img.plan.name} ${platform}`,
      statementOf: async (kind) => {
        if (kind === 'sign') return signStatement({ name, digest: r.manifest.digest });
        const f = await factsOnce();
        if (kind === 'sbom') return statement({ name, digest: r.manifest.digest }, PREDICATE.sbom, makeSbom(f.sbom));
        return makeProvenance({ ...f.provenance, run: runDetailsFrom(process.env, { startedOn: input.startedOn, finishedOn: new Date().toISOString() }, hostname()) });
      } };
  });
  return [index, ...platforms];
}

type Attested = { statements: Partial<Record<PredicateKind, string>>; made: number };

/** Attaches what the subject lacks, all at once; statements already attached that verify are kept, not made again. */
async function attestSubject(s: Subject, input: AttestInput): Promise<Attested> {
  const have = await attachedKinds(s, input.verifier);
  const missing = s.kinds.filter((k) => !have[k]);
  if (missing.length === 0) return { statements: have, made: 0 };
  const bundles = await Promise.all(missing.map(async (kind) => bundleArtifact(await input.signer.signStatement(await s.statementOf(kind)), PREDICATE[kind])));
  const { manifests } = await attachAll(s.client, s.repository, s.descriptor, bundles);
  missing.forEach((kind, i) => { have[kind] = manifests[i]!.digest; });
  return { statements: have, made: missing.length };
}

/** The kinds attached to the subject already, by a bundle that verifies and is about it. */
async function attachedKinds(s: Subject, verifier: BundleVerifier): Promise<Partial<Record<PredicateKind, string>>> {
  const found: Partial<Record<PredicateKind, string>> = {};
  for (const d of await referrers(s.client, s.repository, s.descriptor.digest, BUNDLE_MEDIA_TYPE)) {
    const kind = kindOf(d.annotations?.[PREDICATE_ANNOTATION]);
    if (!kind || found[kind] || !s.kinds.includes(kind)) continue;
    const ok = await readBundle(s.client, s.repository, d.digest, verifier).then((v) => isAbout(v.statement, s.descriptor.digest), () => false);
    if (ok) found[kind] = d.digest;
  }
  return found;
}

/** A bundle as an OCI artifact, with the annotations cosign writes (they show in the referrers index). */
export function bundleArtifact(bundle: SignedBundle, predicateType: string) {
  return { artifactType: BUNDLE_MEDIA_TYPE, mediaType: BUNDLE_MEDIA_TYPE, bytes: bundle.bytes, fresh: true,
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', [PREDICATE_ANNOTATION]: predicateType, 'org.opencontainers.image.created': new Date().toISOString() } };
}

/**
 * A subject is attested once per process: channels released in one run share images, and a later
 * channel takes what an earlier one attached without asking the registry again. A failed one is forgotten.
 */
const attested = new Memo<Attested>();

/** The subject's statements, attested by this call or an earlier one (which then made nothing here). */
function once(s: Subject, run: () => Promise<Attested>): Promise<Attested> {
  let ran = false;
  const p = attested.get(`${s.client.registry}/${s.repository}@${s.descriptor.digest}`, () => { ran = true; return run(); });
  return ran ? p : p.then((a) => ({ ...a, made: 0 }));
}

/** The release's attestations as published beside its manifest (release/attestations.ts). */
export function releaseAttestations(release: string, images: PublishedImage[], record: AttestRecord, signer: string): ReleaseAttestations {
  const subject = (digest: string): AttestedSubject => {
    const r = record[digest] ?? {};
    return { digest, ...(r.sign ? { signature: r.sign } : {}), ...(r.sbom ? { sbom: r.sbom } : {}), ...(r.provenance ? { provenance: r.provenance } : {}) };
  };
  return { release, signer, images: images.filter((i) => i.plan.release).map((i) => ({ asset: imageAssetName(i.plan.name), repository: `${i.plan.registry}/${i.plan.repository}`,
    index: subject(i.index.digest), platforms: Object.fromEntries(Object.entries(i.platforms).map(([p, r]) => [p, subject(r!.manifest.digest)])) })) };
}
