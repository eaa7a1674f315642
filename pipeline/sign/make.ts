/** Makes the signer and the verifier the signing settings name (key, kms or keyless). */
import { EksdError } from '../errors.ts';
import { keylessSigner } from './keyless.ts';
import { createKmsClient, describeKmsKey, kmsPublicKey, kmsSigner, type KmsClientOptions } from './kms.ts';
import { localKeySigner } from './local-key.ts';
import { readPublicKey, spkiHint } from './keys.ts';
import type { BundleVerifier, Signer } from './port.ts';
import type { SigningSettings } from './settings.ts';
import { keylessVerifier, keyVerifier } from './verify.ts';

export function makeSigner(s: SigningSettings, kms: KmsClientOptions = {}): Signer {
  switch (s.kind) {
    case 'key': {
      if (!s.privateKey) {
        throw new EksdError('CONFIG_INVALID', 'signing.privateKey is not set: the public key alone verifies, it cannot sign', {
          where: 'signing.privateKey (EKSD_SIGNING_KEY)', hint: 'set signing.privateKey to the PEM private key, or EKSD_SIGNING=off to release unsigned',
        });
      }
      return localKeySigner({ privateKey: s.privateKey, publicKey: s.publicKey });
    }
    case 'kms': return kmsSigner(s, kms);
    case 'keyless': return keylessSigner(s);
  }
}

/** The verifier of the signatures `s` makes. For kms without a PEM file the public key is fetched once. */
export async function makeVerifier(s: SigningSettings, kms: KmsClientOptions = {}): Promise<BundleVerifier> {
  switch (s.kind) {
    case 'key': {
      const key = readPublicKey(s.publicKey);
      return keyVerifier(key, `the public key ${s.publicKey} (sha256:${spkiHint(key).slice(0, 12)})`);
    }
    case 'kms': {
      const key = await kmsPublicKey(createKmsClient(s, kms), s);
      return keyVerifier(key, `the public key of ${describeKmsKey(s)}${s.publicKey ? ` (${s.publicKey})` : ''}`);
    }
    case 'keyless':
      return keylessVerifier(s);
  }
}
