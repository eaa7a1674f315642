/**
 * The AWS KMS signer: KMS signs the sha256 of the DSSE pre-authentication encoding (Sign, ECDSA_SHA_256,
 * MessageType DIGEST) with a key that never leaves KMS; the bundle names the key by its key id. The
 * public key comes from a PEM file or from GetPublicKey (once per signer). Every signature is checked
 * against that public key before it is used. The SDK's own retries (lost replies, 5xx) are kept.
 */
import { createHash, verify, type KeyObject } from 'node:crypto';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import type { Signer as SigstoreSigner } from '@sigstore/sign';
import { EksdError } from '../errors.ts';
import { awsClientConfig, type StaticCredentials } from '../aws/client-config.ts';
import { bundleStatement } from './bundle.ts';
import { keyInvalid, publicKeyFromDer, publicKeyPem, readPublicKey } from './keys.ts';
import type { Signer } from './port.ts';

export interface KmsSettings { keyId: string; region: string; endpoint?: string; publicKey?: string }

export interface KmsClientOptions {
  /** static credentials (tests); default: the AWS credential chain */
  credentials?: StaticCredentials;
  /** ms without an answer before a request counts as lost (default 30 000) */
  requestTimeoutMs?: number;
}

export function createKmsClient(s: KmsSettings, options: KmsClientOptions = {}): KMSClient {
  return new KMSClient(awsClientConfig({ region: s.region, ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}), requestTimeoutMs: options.requestTimeoutMs ?? 30_000 }));
}

export const describeKmsKey = (s: KmsSettings): string => `KMS key ${s.keyId} in ${s.region}`;

/** The key's public half: the PEM file of the settings, else GetPublicKey (must be ECC_NIST_P256, SIGN_VERIFY). */
export async function kmsPublicKey(client: KMSClient, s: KmsSettings): Promise<KeyObject> {
  if (s.publicKey) return readPublicKey(s.publicKey);
  let reply;
  try {
    reply = await client.send(new GetPublicKeyCommand({ KeyId: s.keyId }));
  } catch (e) {
    throw kmsFailure(e, s, 'GetPublicKey');
  }
  const where = describeKmsKey(s);
  if (reply.KeySpec !== 'ECC_NIST_P256' || reply.KeyUsage !== 'SIGN_VERIFY' || !reply.PublicKey) {
    throw keyInvalid(`${where} is a ${reply.KeySpec ?? 'unknown'} ${reply.KeyUsage ?? ''} key; signing needs an ECC_NIST_P256 SIGN_VERIFY key`, where);
  }
  return publicKeyFromDer(reply.PublicKey, where);
}

/** The signer of `kind: kms` settings. Nothing is sent to KMS until the first statement is signed. */
export function kmsSigner(s: KmsSettings, options: KmsClientOptions = {}): Signer {
  const client = createKmsClient(s, options);
  const describe = describeKmsKey(s);
  let publicKey: Promise<KeyObject> | undefined;
  const keyOnce = (): Promise<KeyObject> => {
    publicKey ??= kmsPublicKey(client, s).catch((e: unknown) => { publicKey = undefined; throw e; });
    return publicKey;
  };
  const signer: SigstoreSigner = {
    sign: async (data) => {
      const key = await keyOnce();
      const signature = await kmsSign(client, s, data);
      if (!verify('sha256', data, key, signature)) {
        throw new EksdError('SIGN_FAILED', `${describe} signed with another key than ${s.publicKey ?? 'its public key'}`, {
          where: s.publicKey ?? s.keyId,
          hint: 'signing.publicKey must be the public key of signing.keyId (aws kms get-public-key), or leave it out',
        });
      }
      return { signature, key: { $case: 'publicKey', publicKey: publicKeyPem(key), hint: s.keyId } };
    },
  };
  return { describe, signStatement: (statement) => bundleStatement(signer, [], statement) };
}

async function kmsSign(client: KMSClient, s: KmsSettings, data: Buffer): Promise<Buffer> {
  const digest = createHash('sha256').update(data).digest();
  try {
    const reply = await client.send(new SignCommand({ KeyId: s.keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }));
    if (!reply.Signature?.length) throw new Error('the reply carries no signature');
    return Buffer.from(reply.Signature);
  } catch (e) {
    throw kmsFailure(e, s, 'Sign');
  }
}

const FAILURES: Record<string, { why: string; hint: string }> = {
  AccessDeniedException: { why: 'access denied', hint: 'grant kms:Sign and kms:GetPublicKey on the key to the role the release runs as' },
  NotFoundException: { why: 'no such key', hint: 'check signing.keyId and signing.region (an alias needs its alias/ prefix)' },
  DisabledException: { why: 'the key is disabled', hint: 'enable the key (aws kms enable-key) or configure another' },
  KMSInvalidStateException: { why: 'the key is not usable (pending deletion or import)', hint: 'cancel the deletion or configure another key' },
  InvalidKeyUsageException: { why: 'the key is not a SIGN_VERIFY key for ECDSA_SHA_256', hint: 'use an ECC_NIST_P256 key with usage SIGN_VERIFY' },
  UnrecognizedClientException: { why: 'the credentials are not valid', hint: 'check the AWS credentials the release runs with' },
  InvalidSignatureException: { why: 'the request signature was refused', hint: 'check the AWS credentials (secret key) and the clock' },
  CredentialsProviderError: { why: 'no AWS credentials', hint: 'run with a role or AWS credentials that may use the key' },
};

/** SIGN_FAILED naming the key, what KMS (or the network) said and what to do. */
export function kmsFailure(e: unknown, s: KmsSettings, action: 'Sign' | 'GetPublicKey'): EksdError {
  if (e instanceof EksdError) return e;
  const err = e as Error & { $metadata?: { httpStatusCode?: number; attempts?: number }; code?: string };
  const known = FAILURES[err.name];
  const attempts = err.$metadata?.attempts ? ` after ${err.$metadata.attempts} attempts` : '';
  const what = `KMS ${action} with ${describeKmsKey(s)} failed${attempts}`;
  if (known) return new EksdError('SIGN_FAILED', `${what}: ${known.why} (${err.name}: ${err.message})`, { where: s.keyId, hint: known.hint, cause: e });
  const status = err.$metadata?.httpStatusCode;
  const lost = status === undefined;
  return new EksdError('SIGN_FAILED', `${what}: ${lost ? 'no answer from KMS' : `HTTP ${status}`} (${err.name}: ${err.message})`, {
    where: s.keyId,
    hint: lost
      ? `check that KMS${s.endpoint ? ` at ${s.endpoint}` : ''} is reachable, then run again`
      : 'KMS failed; run again, and check the key in the KMS console if it persists',
    cause: e,
  });
}
