/**
 * Bundle verifiers. Keyed signatures (local key, KMS) are checked offline: an empty trusted root, the
 * configured public key whatever hint the bundle carries, and no transparency log, SCT or timestamp
 * required. Keyless signatures are checked against a Sigstore trusted root file and the configured
 * certificate identity (OIDC issuer and SAN subject), with one Rekor entry required.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toTrustMaterial } from '@sigstore/verify';
import { EksdError } from '../errors.ts';
import { verifyBundle } from './bundle.ts';
import type { BundleVerifier } from './port.ts';

const EMPTY_TRUSTED_ROOT: TrustedRoot = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};

/** Checks bundles against one public key, offline. `describe` names the key (file, KMS key id). */
export function keyVerifier(publicKey: KeyObject, describe: string): BundleVerifier {
  const keyFinder = () => ({ publicKey, validFor: () => true });
  const verifier = new Verifier(toTrustMaterial(EMPTY_TRUSTED_ROOT, keyFinder), { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  return {
    describe,
    verify: async (bundle) => verifyBundle(bundle, { verifier, describe }),
  };
}

/** Checks keyless bundles: Fulcio certificate chaining to `trustedRoot`, the identity, a Rekor entry. */
export function keylessVerifier(s: { trustedRoot: string; identity: { issuer: string; subject: string } }): BundleVerifier {
  const root = readTrustedRoot(s.trustedRoot);
  const verifier = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 });
  const describe = `keyless identity ${s.identity.subject} (issuer ${s.identity.issuer}, trusted root ${s.trustedRoot})`;
  const policy = { subjectAlternativeName: s.identity.subject, extensions: { issuer: s.identity.issuer } };
  return {
    describe,
    verify: async (bundle) => verifyBundle(bundle, { verifier, describe, policy }),
  };
}

function readTrustedRoot(path: string): TrustedRoot {
  const refuse = (why: string, cause?: unknown): never => {
    throw new EksdError('TRUSTED_ROOT_INVALID', `the Sigstore trusted root ${path} ${why}`, {
      where: path,
      hint: 'set signing.trustedRoot to a trusted_root.json (e.g. from `cosign trusted-root create` or the Sigstore TUF repository)',
      ...(cause !== undefined ? { cause } : {}),
    });
  };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return refuse(`cannot be read as JSON: ${(e as Error).message}`, e);
  }
  const mediaType = (json as { mediaType?: unknown } | null)?.mediaType;
  if (typeof mediaType !== 'string' || !mediaType.startsWith('application/vnd.dev.sigstore.trustedroot')) {
    return refuse(`has media type ${JSON.stringify(mediaType)}, not a Sigstore trusted root`);
  }
  try {
    const root = TrustedRoot.fromJSON(json);
    toTrustMaterial(root);
    return root;
  } catch (e) {
    return refuse(`is malformed: ${(e as Error).message}`, e);
  }
}
