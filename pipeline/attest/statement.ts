/**
 * in-toto v1 statements: the envelope-free document every signature and attestation signs. A subject is
 * an image by digest; the signature statement has the shape cosign 3 signs, so cosign can check it.
 */
import { EksdError } from '../errors.ts';

export const IN_TOTO_STATEMENT = 'https://in-toto.io/Statement/v1';

export const PREDICATE = {
  sign: 'https://sigstore.dev/cosign/sign/v1',
  sbom: 'https://cyclonedx.org/bom',
  provenance: 'https://slsa.dev/provenance/v1',
} as const;

export type PredicateKind = keyof typeof PREDICATE;

/** The kind of statement a predicate type names, if it is one of ours. */
export function kindOf(predicateType: string | undefined): PredicateKind | undefined {
  return (Object.keys(PREDICATE) as PredicateKind[]).find((k) => PREDICATE[k] === predicateType);
}

/** An image (repository without tag) and its digest, 'sha256:<hex>'. */
export interface Subject {
  name: string;
  digest: string;
}

export interface Statement {
  _type: string;
  subject: { name: string; digest: Record<string, string> }[];
  predicateType: string;
  predicate: unknown;
}

/** 'sha256:<hex>' → { sha256: '<hex>' }; anything else is refused. */
export function digestSet(digest: string, about: string): Record<string, string> {
  const m = /^(sha256|sha512):([0-9a-f]+)$/.exec(digest);
  if (!m || m[2]!.length !== (m[1] === 'sha256' ? 64 : 128)) {
    throw new EksdError('ATTEST_INPUT', `${about} has digest '${digest}', not 'sha256:<64 hex>' or 'sha512:<128 hex>'`, {
      where: about,
      hint: 'attestations name images and files by digest; pass the digest the registry or the catalog gives',
    });
  }
  return { [m[1]!]: m[2]! };
}

export function statement(subject: Subject, predicateType: string, predicate: unknown): Statement {
  return {
    _type: IN_TOTO_STATEMENT,
    subject: [{ name: subject.name, digest: digestSet(subject.digest, subject.name) }],
    predicateType,
    predicate,
  };
}

/** What cosign 3 signs for an image: the image digest as subject, the sign predicate type, an empty predicate. */
export function signStatement(subject: Subject): Statement {
  return statement(subject, PREDICATE.sign, {});
}

/** 'sha256:<hex>' of the first subject, when it has a sha256 digest. */
export function subjectDigest(s: Statement): string | undefined {
  const first: unknown = Array.isArray(s?.subject) ? s.subject[0] : undefined;
  const hex = (first as { digest?: { sha256?: unknown } } | undefined)?.digest?.sha256;
  return typeof hex === 'string' ? `sha256:${hex}` : undefined;
}
