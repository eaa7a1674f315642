/**
 * The signing port: a Signer wraps an in-toto statement in a DSSE envelope and returns it as a Sigstore
 * bundle (v0.3, the shape cosign 3 writes); a BundleVerifier checks such a bundle against the configured
 * key or identity and gives the statement back. Three signers sit behind it (local key, KMS, keyless).
 */

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** The bundle as serialized JSON: its bytes (what is pushed) and the parsed object. */
export interface SignedBundle { bytes: Buffer; json: object }

export interface Signer {
  /** e.g. "local key /path/signing-key.pem (sha256 ab12…)", "KMS key alias/eksd in us-west-2" */
  readonly describe: string;
  /** DSSE over the statement, payloadType application/vnd.in-toto+json. */
  signStatement(statement: object): Promise<SignedBundle>;
}

export interface InTotoStatement {
  _type: string;
  subject: { name?: string; digest: Record<string, string> }[];
  predicateType: string;
  predicate: unknown;
}

export interface Verified { payloadType: string; statement: InTotoStatement }

export interface BundleVerifier {
  /** what signatures are checked against: a public key file, a KMS key, a keyless identity */
  readonly describe: string;
  /** The statement of a bundle whose signature verifies; else EksdError SIGNATURE_INVALID saying what is wrong. */
  verify(bundle: Buffer): Promise<Verified>;
}
