/**
 * The local-key signer: an ECDSA P-256 key in PEM files (made by the local environment, never committed)
 * signs with node:crypto (SHA-256, DER signature); the bundle names the key by the sha256 of its SPKI DER.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Signer as SigstoreSigner } from '@sigstore/sign';
import { EksdError } from '../errors.ts';
import { bundleStatement } from './bundle.ts';
import { keyInvalid, publicKeyPem, readPrivateKey, readPublicKey, spkiHint } from './keys.ts';
import type { Signer } from './port.ts';

export const LOCAL_PRIVATE_KEY = 'signing-key.pem';
export const LOCAL_PUBLIC_KEY = 'signing-key.pub';

/**
 * A local key pair in `dir`: signing-key.pem (PKCS#8, 0600) and signing-key.pub (SPKI). Files already
 * there are kept; the public key is derived from the private key when missing. Processes making the pair
 * at once end with one: the private key is created whole or not at all (linked from a temporary file),
 * the first one wins, and the public key is always the winner's.
 */
export function generateLocalKey(dir: string): { privateKey: string; publicKey: string } {
  mkdirSync(dir, { recursive: true });
  const privateKey = join(dir, LOCAL_PRIVATE_KEY);
  const publicKey = join(dir, LOCAL_PUBLIC_KEY);
  let made = false;
  if (!existsSync(privateKey)) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    made = createWhole(privateKey, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
  }
  if (made || !existsSync(publicKey)) replaceWhole(publicKey, publicKeyPem(createPublicKey(readPrivateKey(privateKey))), 0o644);
  return { privateKey, publicKey };
}

/** Creates `path` whole with `mode` unless it exists; false when another process created it first. */
function createWhole(path: string, content: string, mode: number): boolean {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, content, { mode, flag: 'wx' });
  try {
    linkSync(temp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(temp);
  }
}

/** Writes `path` whole (a temporary file renamed over it): a reader sees the old or the new content. */
function replaceWhole(path: string, content: string, mode: number): void {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, content, { mode });
  renameSync(temp, path);
}

/** The signer of `kind: key` settings; reads and checks both files at once (a mismatched pair is refused). */
export function localKeySigner(s: { privateKey: string; publicKey: string }): Signer {
  const privateKey = readPrivateKey(s.privateKey);
  const publicKey = readPublicKey(s.publicKey);
  const hint = spkiHint(publicKey);
  if (spkiHint(createPublicKey(privateKey)) !== hint) {
    throw keyInvalid(`the public key ${s.publicKey} is not the public half of ${s.privateKey}`, s.publicKey);
  }
  const describe = `local key ${s.publicKey} (sha256:${hint.slice(0, 12)})`;
  const signer = nodeSigner(privateKey, publicKey, hint);
  return {
    describe,
    signStatement: async (statement) => {
      try {
        return await bundleStatement(signer, [], statement);
      } catch (e) {
        throw new EksdError('SIGN_FAILED', `signing with ${describe} failed: ${(e as Error).message}`, { where: s.privateKey, cause: e });
      }
    },
  };
}

function nodeSigner(privateKey: KeyObject, publicKey: KeyObject, hint: string): SigstoreSigner {
  const pem = publicKeyPem(publicKey);
  return {
    sign: async (data) => ({
      signature: sign('sha256', data, { key: privateKey, dsaEncoding: 'der' }),
      key: { $case: 'publicKey', publicKey: pem, hint },
    }),
  };
}
