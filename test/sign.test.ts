import test from 'ava';
import { createHash, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, type Signer as SigstoreSigner } from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';
import { errorKind, isEksdError, type EksdError } from '../pipeline/errors.ts';
import { generateLocalKey } from '../pipeline/sign/local-key.ts';
import { makeSigner, makeVerifier } from '../pipeline/sign/make.ts';
import { BUNDLE_MEDIA_TYPE } from '../pipeline/sign/port.ts';
import { parseSigningSettings, type SigningSettings } from '../pipeline/sign/settings.ts';
import { startLoopback } from './helpers/loopback-server.ts';

const dirs: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'eksd-sign-')); dirs.push(d); return d; };
test.after.always(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const statement = {
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: '127.0.0.1:5000/eks-distro/etcd-io/etcd', digest: { sha256: 'ab'.repeat(32) } }],
  predicateType: 'https://sigstore.dev/cosign/sign/v1',
  predicate: {},
};

const keySettings = (dir = tempDir()): { kind: 'key'; privateKey: string; publicKey: string } => ({ kind: 'key', ...generateLocalKey(dir) });

async function signatureInvalid(t: import('ava').ExecutionContext, run: Promise<unknown>, message: RegExp): Promise<EksdError> {
  const e = await t.throwsAsync(run);
  t.true(isEksdError(e, 'SIGNATURE_INVALID'), String(e));
  t.is(errorKind((e as EksdError).code), 'verify');
  t.regex((e as EksdError).message, message);
  return e as EksdError;
}

test('a statement signed with the local key verifies and comes back as signed', async (t) => {
  const s = keySettings();
  const bundle = await makeSigner(s).signStatement(statement);
  const verified = await (await makeVerifier(s)).verify(bundle.bytes);
  t.is(verified.payloadType, 'application/vnd.in-toto+json');
  t.deepEqual(verified.statement, statement);
});

test('the bundle is a v0.3 DSSE bundle over the in-toto statement, naming the key by its SPKI sha256', async (t) => {
  const s = keySettings();
  const bundle = await makeSigner(s).signStatement(statement);
  const json = JSON.parse(bundle.bytes.toString('utf8'));
  t.deepEqual(json, bundle.json);
  t.is(json.mediaType, BUNDLE_MEDIA_TYPE);
  t.is(json.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
  t.deepEqual(JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString('utf8')), statement);
  t.is(json.dsseEnvelope.signatures.length, 1);
  const spki = createPublicKey(readFileSync(s.publicKey)).export({ type: 'spki', format: 'der' });
  t.is(json.verificationMaterial.publicKey.hint, createHash('sha256').update(spki).digest('hex'));
  t.deepEqual(json.verificationMaterial.tlogEntries ?? [], []);
});

test('a tampered payload fails verification', async (t) => {
  const s = keySettings();
  const json = (await makeSigner(s).signStatement(statement)).json as { dsseEnvelope: { payload: string } };
  const other = { ...statement, subject: [{ digest: { sha256: 'cd'.repeat(32) } }] };
  json.dsseEnvelope.payload = Buffer.from(JSON.stringify(other)).toString('base64');
  await signatureInvalid(t, (await makeVerifier(s)).verify(Buffer.from(JSON.stringify(json))), /signature does not verify/);
});

test('a bundle signed by another local key fails, naming the configured key and the one the bundle names', async (t) => {
  const configured = keySettings();
  const other = keySettings();
  const bundle = await makeSigner(other).signStatement(statement);
  const otherHint = (bundle.json as { verificationMaterial: { publicKey: { hint: string } } }).verificationMaterial.publicKey.hint;
  const e = await signatureInvalid(t, (await makeVerifier(configured)).verify(bundle.bytes), /signature does not verify against the public key/);
  t.true(e.message.includes(configured.publicKey), e.message);
  t.true(e.message.includes(otherHint), e.message);
});

test('what is not a signed in-toto DSSE bundle fails with its own message', async (t) => {
  const s = keySettings();
  const verifier = await makeVerifier(s);
  const signer = nodeSigner(s.privateKey);
  await signatureInvalid(t, verifier.verify(Buffer.from('<html>not found</html>')), /not a Sigstore bundle: not JSON/);
  const v02 = { ...(await makeSigner(s).signStatement(statement)).json, mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2' };
  await signatureInvalid(t, verifier.verify(Buffer.from(JSON.stringify(v02))), /wrong media type/);
  await signatureInvalid(t, verifier.verify(Buffer.from(JSON.stringify({ mediaType: BUNDLE_MEDIA_TYPE }))), /not a Sigstore bundle/);
  const message = await new MessageSignatureBundleBuilder({ signer, witnesses: [] }).create({ data: Buffer.from('hello') });
  const messageV03 = { ...bundleToJSON(message), mediaType: BUNDLE_MEDIA_TYPE };
  await signatureInvalid(t, verifier.verify(Buffer.from(JSON.stringify(messageV03))), /not DSSE/);
  const text = await new DSSEBundleBuilder({ signer, witnesses: [] }).create({ data: Buffer.from(JSON.stringify(statement)), type: 'text/plain' });
  await signatureInvalid(t, verifier.verify(Buffer.from(JSON.stringify(bundleToJSON(text)))), /payload type is "text\/plain"/);
  const notStatement = await makeSigner(s).signStatement({ hello: 'world' });
  await signatureInvalid(t, verifier.verify(notStatement.bytes), /not an in-toto statement/);
});

test('generateLocalKey makes a private key readable by its owner only, and keeps the files it finds', (t) => {
  const dir = join(tempDir(), 'keys');
  const first = generateLocalKey(dir);
  t.deepEqual(first, { privateKey: join(dir, 'signing-key.pem'), publicKey: join(dir, 'signing-key.pub') });
  t.is(statSync(first.privateKey).mode & 0o777, 0o600);
  const privatePem = readFileSync(first.privateKey, 'utf8');
  const publicPem = readFileSync(first.publicKey, 'utf8');
  t.regex(privatePem, /^-----BEGIN PRIVATE KEY-----/);
  t.regex(publicPem, /^-----BEGIN PUBLIC KEY-----/);
  t.deepEqual(generateLocalKey(dir), first);
  t.is(readFileSync(first.privateKey, 'utf8'), privatePem);
  t.is(readFileSync(first.publicKey, 'utf8'), publicPem);
  unlinkSync(first.publicKey);
  generateLocalKey(dir);
  t.is(readFileSync(first.publicKey, 'utf8'), publicPem, 'a lost public key is made again from the private key');
});

test('a key pair that does not match, a missing file or a key that is not P-256 is refused when the signer is made', (t) => {
  const a = keySettings();
  const b = keySettings();
  const mismatch = t.throws(() => makeSigner({ kind: 'key', privateKey: a.privateKey, publicKey: b.publicKey }));
  t.true(isEksdError(mismatch, 'SIGNING_KEY_INVALID'), String(mismatch));
  t.regex(mismatch!.message, /is not the public half/);
  const missing = t.throws(() => makeSigner({ kind: 'key', privateKey: join(tempDir(), 'nope.pem'), publicKey: a.publicKey }));
  t.true(isEksdError(missing, 'FILE_UNREADABLE'), String(missing));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = tempDir();
  writeFileSync(join(dir, 'rsa.pem'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'rsa.pub'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  const notP256 = t.throws(() => makeSigner({ kind: 'key', privateKey: join(dir, 'rsa.pem'), publicKey: join(dir, 'rsa.pub') }));
  t.true(isEksdError(notP256, 'SIGNING_KEY_INVALID'), String(notP256));
  t.regex(notP256!.message, /not ECDSA P-256/);
});

function nodeSigner(privateKeyPath: string): SigstoreSigner {
  const pem = readFileSync(privateKeyPath, 'utf8');
  const publicKey = createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();
  return { sign: async (data) => ({ signature: sign('sha256', data, pem), key: { $case: 'publicKey', publicKey, hint: 'x' } }) };
}

// Settings

const WHERE = 'config/local.yaml';
const good = {
  key: { kind: 'key', privateKey: 'keys/signing-key.pem', publicKey: '/abs/signing-key.pub' },
  kms: { kind: 'kms', keyId: 'alias/eksd-release', region: 'us-west-2', endpoint: 'http://127.0.0.1:4599', publicKey: 'kms.pub' },
  keyless: {
    kind: 'keyless', fulcioUrl: 'https://fulcio.sigstore.dev', rekorUrl: 'https://rekor.sigstore.dev', trustedRoot: 'trusted_root.json',
    identity: { issuer: 'https://token.actions.githubusercontent.com', subject: 'https://github.com/o/r/.github/workflows/release.yml@refs/heads/main' },
  },
};

test('signing settings: absent is undefined, each kind parses, relative paths resolve against the root', (t) => {
  t.is(parseSigningSettings(undefined, WHERE), undefined);
  t.deepEqual(parseSigningSettings(good.key, WHERE, '/project'), { kind: 'key', privateKey: '/project/keys/signing-key.pem', publicKey: '/abs/signing-key.pub' });
  t.deepEqual(parseSigningSettings(good.kms, WHERE, '/project'), { ...good.kms, publicKey: '/project/kms.pub' });
  t.deepEqual(parseSigningSettings({ kind: 'kms', keyId: 'arn:aws:kms:us-west-2:111122223333:key/1234', region: 'eu-central-1' }, WHERE),
    { kind: 'kms', keyId: 'arn:aws:kms:us-west-2:111122223333:key/1234', region: 'eu-central-1' });
  t.deepEqual(parseSigningSettings(good.keyless, WHERE, '/project'), { ...good.keyless, trustedRoot: '/project/trusted_root.json' });
});

const BAD: Array<[string, unknown, string]> = [
  ['not an object', 'key', 'signing'],
  ['a list', [good.key], 'signing'],
  ['no kind', { privateKey: 'a', publicKey: 'b' }, 'signing.kind'],
  ['an unknown kind', { kind: 'gpg' }, 'signing.kind'],
  ['an unknown field', { ...good.key, password: 'x' }, 'signing.password'],
  ['a field of another kind', { ...good.key, keyId: 'k' }, 'signing.keyId'],
  ['an empty public key path', { ...good.key, publicKey: '  ' }, 'signing.publicKey'],
  ['a number as path', { ...good.key, privateKey: 3 }, 'signing.privateKey'],
  ['no key id', { kind: 'kms', region: 'us-west-2' }, 'signing.keyId'],
  ['a key id with spaces', { ...good.kms, keyId: 'my key' }, 'signing.keyId'],
  ['no region', { kind: 'kms', keyId: 'k' }, 'signing.region'],
  ['a bad region', { ...good.kms, region: 'US West' }, 'signing.region'],
  ['an endpoint that is no URL', { ...good.kms, endpoint: 'kms' }, 'signing.endpoint'],
  ['plain http to a remote endpoint', { ...good.kms, endpoint: 'http://kms.example.com' }, 'signing.endpoint'],
  ['no Fulcio URL', { ...good.keyless, fulcioUrl: undefined }, 'signing.fulcioUrl'],
  ['a Rekor URL with credentials', { ...good.keyless, rekorUrl: 'https://u:p@rekor.example.com' }, 'signing.rekorUrl'],
  ['no trusted root', { ...good.keyless, trustedRoot: undefined }, 'signing.trustedRoot'],
  ['an identity that is a string', { ...good.keyless, identity: 'me' }, 'signing.identity'],
  ['an identity without issuer', { ...good.keyless, identity: { subject: 's' } }, 'signing.identity.issuer'],
  ['an identity with an empty subject', { ...good.keyless, identity: { issuer: 'i', subject: '' } }, 'signing.identity.subject'],
  ['an identity with an unknown field', { ...good.keyless, identity: { issuer: 'i', subject: 's', email: 'e' } }, 'signing.identity.email'],
];

for (const [what, raw, field] of BAD) {
  test(`signing settings: ${what} is CONFIG_INVALID naming ${field}`, (t) => {
    const e = t.throws(() => parseSigningSettings(raw, WHERE));
    t.true(isEksdError(e, 'CONFIG_INVALID'), String(e));
    t.is(errorKind((e as EksdError).code), 'input');
    t.true(e!.message.startsWith(`${field} `), e!.message);
    t.is((e as EksdError).where, `${WHERE} ${field}`);
  });
}

// Keyless: no network here; only what making it and failing early do.

test('making a keyless signer touches no network, and signing without an OIDC token fails before any request', async (t) => {
  const seen: string[] = [];
  const server = await startLoopback(async (req, res) => { seen.push(req.url ?? ''); res.writeHead(500); res.end(); });
  t.teardown(() => server.stop());
  for (const name of ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'SIGSTORE_ID_TOKEN']) delete process.env[name];
  const settings = parseSigningSettings({ ...good.keyless, fulcioUrl: server.endpoint, rekorUrl: server.endpoint }, WHERE)!;
  const signer = makeSigner(settings);
  t.regex(signer.describe, /keyless .*release\.yml@refs\/heads\/main/);
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(seen, []);
  const e = await t.throwsAsync(signer.signStatement(statement));
  t.true(isEksdError(e, 'SIGN_FAILED'), String(e));
  t.regex((e as EksdError).hint ?? '', /id-token permission with write access/);
  t.deepEqual(seen, []);
});

test('the keyless verifier needs a readable trusted root, and refuses a keyed bundle (no certificate, no Rekor entry)', async (t) => {
  const dir = tempDir();
  const keyless = (trustedRoot: string) => ({ ...(good.keyless as unknown as Extract<SigningSettings, { kind: 'keyless' }>), trustedRoot });
  const missing = await t.throwsAsync(makeVerifier(keyless(join(dir, 'none.json'))));
  t.true(isEksdError(missing, 'TRUSTED_ROOT_INVALID'), String(missing));
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify({ mediaType: BUNDLE_MEDIA_TYPE }));
  const notRoot = await t.throwsAsync(makeVerifier(keyless(join(dir, 'bundle.json'))));
  t.true(isEksdError(notRoot, 'TRUSTED_ROOT_INVALID'), String(notRoot));
  const root = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
  writeFileSync(join(dir, 'trusted_root.json'), JSON.stringify(root));
  const verifier = await makeVerifier(keyless(join(dir, 'trusted_root.json')));
  t.regex(verifier.describe, /keyless identity https:\/\/github.com\/o\/r/);
  const keyed = await makeSigner(keySettings()).signStatement(statement);
  await signatureInvalid(t, verifier.verify(keyed.bytes), /does not verify against keyless identity/);
});

test('the public key alone verifies; signing without the private key is refused with the setting to give', async (t) => {
  const s = keySettings();
  const bundle = await makeSigner(s).signStatement(statement);
  const publicOnly = parseSigningSettings({ kind: 'key', publicKey: s.publicKey }, WHERE, '/project')!;
  t.is((await (await makeVerifier(publicOnly)).verify(bundle.bytes)).statement.predicateType, statement.predicateType);
  const refused = t.throws(() => makeSigner(publicOnly));
  t.true(isEksdError(refused, 'CONFIG_INVALID'));
  t.regex(refused.message, /signing\.privateKey is not set/);
});

test('processes making the local key at once end with one pair that matches', async (t) => {
  const dir = tempDir();
  const module = new URL('../pipeline/sign/local-key.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(module)}).then((m) => m.generateLocalKey(${JSON.stringify(dir)}))`;
  const runs = await Promise.all(Array.from({ length: 6 }, () => new Promise<number | null>((resolve) => {
    spawn(process.execPath, ['--import=tsx', '-e', code], { stdio: 'ignore' }).on('close', resolve);
  })));
  t.deepEqual(runs, Array(6).fill(0));
  const signer = makeSigner({ kind: 'key', privateKey: join(dir, 'signing-key.pem'), publicKey: join(dir, 'signing-key.pub') });
  t.truthy(await signer.signStatement(statement), 'the pair matches (a mismatched pair is refused)');
  t.deepEqual(readdirSync(dir).sort(), ['signing-key.pem', 'signing-key.pub']);
});
