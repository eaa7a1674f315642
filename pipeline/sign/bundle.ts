/**
 * Sigstore bundles on both sides of the port: made with @sigstore/sign's DSSEBundleBuilder from any
 * sigstore Signer (and witnesses, for keyless), and read back, checked step by step (JSON, media type,
 * DSSE, signature, in-toto payload) with @sigstore/verify, each step failing with its own message.
 */
import { bundleFromJSON, bundleToJSON, type Bundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, type Signer as SigstoreSigner, type Witness } from '@sigstore/sign';
import { toSignedEntity, type Verifier, type VerificationPolicy } from '@sigstore/verify';
import { EksdError } from '../errors.ts';
import { BUNDLE_MEDIA_TYPE, IN_TOTO_PAYLOAD_TYPE, type InTotoStatement, type SignedBundle, type Verified } from './port.ts';

/** A DSSE bundle over `statement`, signed by `signer`, with what the witnesses (Rekor) testify. */
export async function bundleStatement(signer: SigstoreSigner, witnesses: Witness[], statement: object): Promise<SignedBundle> {
  const builder = new DSSEBundleBuilder({ signer, witnesses });
  const bundle = await builder.create({ data: Buffer.from(JSON.stringify(statement), 'utf8'), type: IN_TOTO_PAYLOAD_TYPE });
  const json = bundleToJSON(bundle);
  return { bytes: Buffer.from(JSON.stringify(json), 'utf8'), json };
}

export interface BundleCheck {
  verifier: Verifier;
  /** what the signature must verify against, for messages */
  describe: string;
  policy?: VerificationPolicy;
}

/** The statement of a bundle that verifies under `check`; SIGNATURE_INVALID naming what is wrong otherwise. */
export function verifyBundle(bytes: Buffer, check: BundleCheck): Verified {
  const bundle = parseBundle(bytes);
  if (bundle.content.$case !== 'dsseEnvelope') {
    throw invalid(`the bundle is not DSSE (it holds a ${bundle.content.$case}); eksd signs in-toto statements in DSSE envelopes`);
  }
  try {
    check.verifier.verify(toSignedEntity(bundle), check.policy);
  } catch (e) {
    throw invalid(`the signature does not verify against ${check.describe}: ${reasonOf(e)}${hintNote(bundle)}`, e);
  }
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw invalid(`the payload type is ${JSON.stringify(envelope.payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`);
  }
  return { payloadType: envelope.payloadType, statement: statementOf(envelope.payload) };
}

function parseBundle(bytes: Buffer): Bundle {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid(`not a Sigstore bundle: not JSON (${bytes.length} bytes starting ${JSON.stringify(bytes.subarray(0, 16).toString('utf8'))})`);
  }
  const mediaType = (json as { mediaType?: unknown } | null)?.mediaType;
  if (mediaType !== BUNDLE_MEDIA_TYPE) {
    throw invalid(`wrong media type ${JSON.stringify(mediaType)}: expected a bundle of media type ${BUNDLE_MEDIA_TYPE}`);
  }
  try {
    return bundleFromJSON(json);
  } catch (e) {
    throw invalid(`not a Sigstore bundle: ${reasonOf(e)}`, e);
  }
}

function statementOf(payload: Buffer): InTotoStatement {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    throw invalid('the payload is not an in-toto statement: not JSON');
  }
  const s = parsed as Partial<InTotoStatement> | null;
  const subjectsOk = Array.isArray(s?.subject) && s.subject.length > 0 && s.subject.every((x) =>
    typeof x === 'object' && x !== null && typeof x.digest === 'object' && x.digest !== null
    && Object.values(x.digest).every((d) => typeof d === 'string'));
  if (!s || typeof s._type !== 'string' || typeof s.predicateType !== 'string' || !subjectsOk) {
    throw invalid('the payload is not an in-toto statement: it needs _type, predicateType and subjects with digests');
  }
  return { _type: s._type, subject: s.subject!, predicateType: s.predicateType, predicate: s.predicate };
}

/** The key the bundle says it was signed with, when it names one. */
function hintNote(bundle: Bundle): string {
  const material = bundle.verificationMaterial.content;
  return material?.$case === 'publicKey' ? ` (the bundle names key ${JSON.stringify(material.publicKey.hint)})` : '';
}

function reasonOf(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

function invalid(message: string, cause?: unknown): EksdError {
  return new EksdError('SIGNATURE_INVALID', message, {
    hint: 'the bundle was not signed by the configured signer, or was changed since; sign again, or check the signing settings',
    ...(cause !== undefined ? { cause } : {}),
  });
}
