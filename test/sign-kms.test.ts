import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEksdError, type EksdError } from '../pipeline/errors.ts';
import { generateLocalKey } from '../pipeline/sign/local-key.ts';
import { makeSigner, makeVerifier } from '../pipeline/sign/make.ts';
import type { SigningSettings } from '../pipeline/sign/settings.ts';
import { FakeKms } from './helpers/fake-kms.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.AWS_ACCESS_KEY_ID = 'AKIDKMSSTANDIN';
process.env.AWS_SECRET_ACCESS_KEY = 'kms-stand-in-secret';
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;

const dirs: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'eksd-sign-kms-')); dirs.push(d); return d; };
test.after.always(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** A KMS stand-in of the test's own (tests run at once; faults and request counts stay with their test). */
async function startKms(t: ExecutionContext): Promise<FakeKms> {
  const kms = new FakeKms('us-west-2');
  await kms.start();
  t.teardown(() => kms.stop());
  return kms;
}

const statement = {
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: '127.0.0.1:5000/eks-distro/kubernetes/kube-apiserver', digest: { sha256: 'ef'.repeat(32) } }],
  predicateType: 'https://sigstore.dev/cosign/sign/v1',
  predicate: {},
};

type Kms = Extract<SigningSettings, { kind: 'kms' }>;
const settings = (kms: FakeKms, keyId: string, extra: Partial<Kms> = {}): Kms => ({ kind: 'kms', keyId, region: 'us-west-2', endpoint: kms.endpoint, ...extra });

/** The DSSE pre-authentication encoding of the in-toto statement, as the bundle's envelope carries it. */
function pae(json: object): Buffer {
  const envelope = (json as { dsseEnvelope: { payload: string; payloadType: string } }).dsseEnvelope;
  const payload = Buffer.from(envelope.payload, 'base64');
  return Buffer.concat([Buffer.from(`DSSEv1 ${envelope.payloadType.length} ${envelope.payloadType} ${payload.length} `), payload]);
}

test('a statement signed by KMS (Sign, DIGEST of the PAE) verifies with the public key from GetPublicKey', async (t) => {
  const kms = await startKms(t);
  const keyId = kms.createKey();
  const s = settings(kms, keyId);
  const signer = makeSigner(s);
  t.regex(signer.describe, new RegExp(`KMS key ${keyId} in us-west-2`));
  const before = kms.requests.length;
  const bundle = await signer.signStatement(statement);
  await signer.signStatement(statement);
  const mine = kms.requests.slice(before);
  t.deepEqual(mine.map((r) => r.target), ['TrentService.GetPublicKey', 'TrentService.Sign', 'TrentService.Sign'], 'the public key is fetched once');
  const sign = mine[1]!.body;
  t.is(sign.MessageType, 'DIGEST');
  t.is(sign.SigningAlgorithm, 'ECDSA_SHA_256');
  t.is(sign.KeyId, keyId);
  t.is(sign.Message, createHash('sha256').update(pae(bundle.json)).digest('base64'));
  t.is((bundle.json as { verificationMaterial: { publicKey: { hint: string } } }).verificationMaterial.publicKey.hint, keyId);
  const verified = await (await makeVerifier(s)).verify(bundle.bytes);
  t.deepEqual(verified.statement, statement);
});

test('with a public key PEM configured, neither signing nor verifying asks KMS for the key', async (t) => {
  const kms = await startKms(t);
  const keyId = kms.createKey();
  const pem = join(tempDir(), 'kms.pub');
  writeFileSync(pem, kms.publicKeyPem(keyId));
  const s = settings(kms, keyId, { publicKey: pem });
  const before = kms.requests.length;
  const bundle = await makeSigner(s).signStatement(statement);
  const verifier = await makeVerifier(s);
  t.deepEqual(kms.requests.slice(before).map((r) => r.target), ['TrentService.Sign']);
  t.deepEqual((await verifier.verify(bundle.bytes)).statement, statement);
});

test('a bundle from another KMS key or a local key fails the KMS verifier, naming the KMS key', async (t) => {
  const kms = await startKms(t);
  const keyId = kms.createKey();
  const verifier = await makeVerifier(settings(kms, keyId));
  const fromOtherKms = await makeSigner(settings(kms, kms.createKey())).signStatement(statement);
  const fromLocal = await makeSigner({ kind: 'key', ...generateLocalKey(tempDir()) }).signStatement(statement);
  for (const bundle of [fromOtherKms, fromLocal]) {
    const e = await t.throwsAsync(verifier.verify(bundle.bytes));
    t.true(isEksdError(e, 'SIGNATURE_INVALID'), String(e));
    t.regex((e as EksdError).message, new RegExp(`does not verify against the public key of KMS key ${keyId}`));
  }
});

test('an unknown key id is SIGN_FAILED naming the key and what to check', async (t) => {
  const kms = await startKms(t);
  const keyId = '00000000-0000-4000-8000-000000000000';
  const e = await t.throwsAsync(makeSigner(settings(kms, keyId)).signStatement(statement));
  t.true(isEksdError(e, 'SIGN_FAILED'), String(e));
  t.regex((e as EksdError).message, new RegExp(`KMS GetPublicKey with KMS key ${keyId} in us-west-2 failed.*no such key.*NotFoundException`));
  t.regex((e as EksdError).hint ?? '', /signing\.keyId and signing\.region/);
  const verify = await t.throwsAsync(makeVerifier(settings(kms, keyId)));
  t.true(isEksdError(verify, 'SIGN_FAILED'), String(verify));
});

test('access denied on Sign is SIGN_FAILED saying which permission to grant', async (t) => {
  const kms = await startKms(t);
  const keyId = kms.createKey();
  const pem = join(tempDir(), 'kms.pub');
  writeFileSync(pem, kms.publicKeyPem(keyId));
  kms.deny(keyId);
  const e = await t.throwsAsync(makeSigner(settings(kms, keyId, { publicKey: pem })).signStatement(statement));
  t.true(isEksdError(e, 'SIGN_FAILED'), String(e));
  t.regex((e as EksdError).message, new RegExp(`KMS Sign with KMS key ${keyId} .*access denied`));
  t.regex((e as EksdError).hint ?? '', /kms:Sign/);
});

test('a public key PEM that is not the KMS key\'s is SIGN_FAILED before a bundle is made', async (t) => {
  const kms = await startKms(t);
  const keyId = kms.createKey();
  const pem = join(tempDir(), 'wrong.pub');
  writeFileSync(pem, kms.publicKeyPem(kms.createKey()));
  const e = await t.throwsAsync(makeSigner(settings(kms, keyId, { publicKey: pem })).signStatement(statement));
  t.true(isEksdError(e, 'SIGN_FAILED'), String(e));
  t.regex((e as EksdError).message, /signed with another key than .*wrong\.pub/);
});

test('a lost reply to Sign is retried by the SDK and the bundle verifies', async (t) => {
  const kms = await startKms(t);
  const keyId = kms.createKey();
  const s = settings(kms, keyId);
  const verifier = await makeVerifier(s);
  const signs = kms.count('TrentService.Sign');
  kms.dropRequest(2); // GetPublicKey, then the first Sign: handled, its reply lost
  const bundle = await makeSigner(s).signStatement(statement);
  t.is(kms.count('TrentService.Sign') - signs, 2);
  t.deepEqual((await verifier.verify(bundle.bytes)).statement, statement);
});

test('a 500 from KMS once is retried by the SDK and the bundle verifies', async (t) => {
  const kms = await startKms(t);
  const keyId = kms.createKey();
  const pem = join(tempDir(), 'kms.pub');
  writeFileSync(pem, kms.publicKeyPem(keyId));
  const s = settings(kms, keyId, { publicKey: pem });
  const signs = kms.count('TrentService.Sign');
  kms.failOnce();
  const bundle = await makeSigner(s).signStatement(statement);
  t.is(kms.count('TrentService.Sign') - signs, 2);
  t.deepEqual((await (await makeVerifier(s)).verify(bundle.bytes)).statement, statement);
});

test('the stand-in answers like KMS: a digest that is not 32 bytes is a ValidationException', async (t) => {
  const kms = await startKms(t);
  const keyId = kms.createKey();
  const res = await fetch(kms.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Sign', authorization: 'AWS4-HMAC-SHA256 Credential=x' },
    body: JSON.stringify({ KeyId: keyId, Message: Buffer.alloc(20).toString('base64'), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }),
  });
  t.is(res.status, 400);
  t.is(((await res.json()) as { __type: string }).__type, 'ValidationException');
});

test('replies lost on every attempt are SIGN_FAILED saying KMS did not answer, naming the key', async (t) => {
  const kms = await startKms(t);
  const keyId = kms.createKey();
  const pem = join(tempDir(), 'kms.pub');
  writeFileSync(pem, kms.publicKeyPem(keyId));
  for (let n = 1; n <= 5; n++) kms.dropRequest(n);
  const e = await t.throwsAsync(makeSigner(settings(kms, keyId, { publicKey: pem })).signStatement(statement));
  t.true(isEksdError(e, 'SIGN_FAILED'), String(e));
  t.regex((e as EksdError).message, new RegExp(`KMS Sign with KMS key ${keyId} in us-west-2 failed.*no answer from KMS`));
  t.regex((e as EksdError).hint ?? '', new RegExp(`KMS at ${kms.endpoint} is reachable`));
  t.true(kms.count('TrentService.Sign') > 1, 'the SDK tried again before giving up');
});
