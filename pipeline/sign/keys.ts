/**
 * ECDSA P-256 keys as the signers and verifiers use them: read from PEM files (PKCS#8 private, SPKI
 * public) and checked to be P-256, converted from KMS's DER, and named by the sha256 of their SPKI DER
 * (the hint cosign puts in a bundle).
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EksdError } from '../errors.ts';

/** sha256 of the key's SPKI DER, hex. */
export function spkiHint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

export function publicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

/** A public key from DER SPKI (as KMS GetPublicKey returns it). */
export function publicKeyFromDer(der: Uint8Array, where: string): KeyObject {
  try {
    return requireP256(createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }), where);
  } catch (e) {
    if (e instanceof EksdError) throw e;
    throw keyInvalid(`the public key of ${where} is not DER SPKI: ${(e as Error).message}`, where);
  }
}

export function readPublicKey(path: string): KeyObject {
  const pem = readKeyFile(path, 'public');
  try {
    return requireP256(createPublicKey(pem), path);
  } catch (e) {
    if (e instanceof EksdError) throw e;
    throw keyInvalid(`${path} is not a PEM public key: ${(e as Error).message}`, path);
  }
}

export function readPrivateKey(path: string): KeyObject {
  const pem = readKeyFile(path, 'private');
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw keyInvalid(`${path} is not a PEM private key: ${(e as Error).message}`, path);
  }
  requireP256(createPublicKey(key), path);
  return key;
}

function readKeyFile(path: string, which: 'public' | 'private'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new EksdError('FILE_UNREADABLE', `cannot read the ${which} signing key ${path}: ${(e as Error).message}`, {
      where: path,
      hint: 'check signing.privateKey / signing.publicKey in the configuration; the local profile makes its pair (out/local/signing-key.pem, .pub) on first use',
      cause: e,
    });
  }
}

function requireP256(key: KeyObject, where: string): KeyObject {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || (curve !== 'prime256v1' && curve !== 'P-256')) {
    throw keyInvalid(`${where} is a ${key.asymmetricKeyType}${curve ? ` ${curve}` : ''} key, not ECDSA P-256`, where);
  }
  return key;
}

export function keyInvalid(message: string, where: string): EksdError {
  return new EksdError('SIGNING_KEY_INVALID', message, {
    where,
    hint: 'signing keys are ECDSA P-256: a PKCS#8 PEM private key and its SPKI PEM public key (openssl ecparam -name prime256v1)',
  });
}
