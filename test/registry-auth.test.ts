import anyTest, { type TestFn } from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEksdError, type EksdError } from '../pipeline/errors.ts';
import { copy, dockerConfigCredentials, emptyCopyStats, RegistryClient, staticCredentials, type CredentialSource } from '../pipeline/registry/index.ts';
import { buildIndex, pushTestImage, startRegistry, TEST_HTPASSWD, type RunningRegistry } from './helpers/registry.ts';
import { startTokenServer, type TokenServer } from './helpers/token-server.ts';
import { parseScopes, scopeKey } from '../pipeline/registry/scopes.ts';

const USER = 'release-bot';
const PASSWORD = 'token-pass-Zq81xw';

const test = anyTest as TestFn<{ ts: TokenServer; tokenReg: RunningRegistry; basicReg: RunningRegistry; dir: string }>;

test.before(async (t) => {
  const ts = await startTokenServer({
    username: USER, password: PASSWORD,
    // pull on "auth/secret-src" is not granted as a mount source, so mounts from it must fall back to uploads
    grant: (req) => req.length > 1 ? req.map((s) => s.name === 'auth/secret-src' ? { ...s, actions: [] } : s) : req,
  });
  const [tokenReg, basicReg] = await Promise.all([
    startRegistry({ auth: ts.registryAuth }),
    startRegistry({ auth: { htpasswd: TEST_HTPASSWD.line } }),
  ]);
  t.context = { ts, tokenReg, basicReg, dir: await mkdtemp(join(tmpdir(), 'eksd-auth-')) };
});

test.after.always(async (t) => {
  await Promise.all([t.context.tokenReg?.stop(), t.context.basicReg?.stop()]);
  await t.context.ts?.stop();
  if (t.context.dir) await rm(t.context.dir, { recursive: true, force: true });
});

const lines: string[] = [];
const client = (host: string, credentials?: CredentialSource): RegistryClient => new RegistryClient({
  registry: host, retry: { attempts: 3, baseMs: 10, maxMs: 50 }, log: (l) => lines.push(l),
  ...(credentials ? { credentials } : {}),
});
const errors: string[] = [];
const remember = (e: unknown): EksdError => { errors.push((e as EksdError).describe(), String((e as Error).stack)); return e as EksdError; };

test.serial('token auth: push, pull and mount with exactly the challenged scopes; tokens cached', async (t) => {
  const { ts, tokenReg } = t.context;
  const c = client(tokenReg.host, staticCredentials({ username: USER, password: PASSWORD }));
  const idx = buildIndex({ seed: 'auth-1', layerSizes: [1000, 2000] });
  await pushTestImage(c, 'auth/src', idx, 'v1');
  const before = ts.requests.length;
  for (let i = 0; i < 5; i++) t.is((await c.headManifest('auth/src', 'v1'))?.digest, idx.digest);
  t.true(ts.requests.length - before <= 1, 'one token for repeated pulls');
  const stats = emptyCopyStats();
  await copy({ from: { client: c, repo: 'auth/src', ref: 'v1' }, to: { client: c, repo: 'auth/dst' }, tags: ['v1'], stats });
  t.is(stats.blobsMounted, 6);
  const mountReq = ts.requests.find((r) => r.scopes.includes('repository:auth/src:pull') && r.scopes.some((s) => s.startsWith('repository:auth/dst:')));
  t.truthy(mountReq, 'a token request named both repositories');
  // the registry lists a scope's actions in no fixed order, so compare them as sets
  t.is(scopeKey(parseScopes(mountReq!.scopes.join(' '))), 'repository:auth/dst:pull,push repository:auth/src:pull');
  t.true(ts.requests.every((r) => r.ok));
});

test.serial('token auth: a mount the token server does not grant falls back to an upload', async (t) => {
  const { tokenReg } = t.context;
  const c = client(tokenReg.host, staticCredentials({ username: USER, password: PASSWORD }));
  const idx = buildIndex({ seed: 'auth-2', layerSizes: [500] });
  await pushTestImage(c, 'auth/secret-src', idx, 'v1');
  const stats = emptyCopyStats();
  await copy({ from: { client: c, repo: 'auth/secret-src', ref: 'v1' }, to: { client: c, repo: 'auth/dst2' }, stats });
  t.is(stats.blobsMounted, 0);
  t.is(stats.blobsUploaded, 4);
  t.deepEqual((await c.getManifest('auth/dst2', idx.digest)).bytes, idx.bytes);
});

test('token auth: wrong credentials fail with REGISTRY_UNAUTHORIZED naming registry, repository and reference', async (t) => {
  const { tokenReg } = t.context;
  const c = client(tokenReg.host, staticCredentials({ username: USER, password: 'wrong-password-123' }));
  const e = remember(await t.throwsAsync(c.getManifest('auth/src', 'v1')));
  t.true(isEksdError(e, 'REGISTRY_UNAUTHORIZED'));
  t.regex(e.message, new RegExp(`${tokenReg.host}/auth/src:v1`));
  t.regex(e.message, /token server .* refused the credentials \(HTTP 401\)/);
  t.regex(e.hint ?? '', /credentials/);
  const anon = client(tokenReg.host);
  const e2 = remember(await t.throwsAsync(anon.headBlob('auth/src', `sha256:${'0'.repeat(64)}`)));
  t.true(isEksdError(e2, 'REGISTRY_UNAUTHORIZED'));
});

test('basic auth: htpasswd registry with static and docker-config credentials; wrong password refused', async (t) => {
  const { basicReg, dir } = t.context;
  const c = client(basicReg.host, staticCredentials(TEST_HTPASSWD));
  const idx = buildIndex({ seed: 'basic', layerSizes: [100] });
  await pushTestImage(c, 'basic/x', idx, 'v1');
  const configPath = join(dir, 'config.json');
  const auth = Buffer.from(`${TEST_HTPASSWD.username}:${TEST_HTPASSWD.password}`).toString('base64');
  await writeFile(configPath, JSON.stringify({ auths: { [basicReg.host]: { auth } } }));
  const fromConfig = client(basicReg.host, dockerConfigCredentials(basicReg.host, { path: configPath }));
  t.deepEqual((await fromConfig.getManifest('basic/x', 'v1')).bytes, idx.bytes);
  const bad = client(basicReg.host, staticCredentials({ username: TEST_HTPASSWD.username, password: 'not-the-password' }));
  const e = remember(await t.throwsAsync(bad.getManifest('basic/x', 'v1')));
  t.true(isEksdError(e, 'REGISTRY_UNAUTHORIZED'));
  t.regex(e.message, new RegExp(`${basicReg.host}/basic/x:v1`));
  t.regex(e.message, /refused the credentials/);
});

test.after('no password, token or Authorization value appears in any log line or error', (t) => {
  const { ts } = t.context;
  const text = [...lines, ...errors].join('\n');
  t.true(lines.length > 0 && errors.length > 0);
  const secrets = [PASSWORD, TEST_HTPASSWD.password, 'wrong-password-123', 'not-the-password', ...ts.issued,
    Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), Buffer.from(`${TEST_HTPASSWD.username}:${TEST_HTPASSWD.password}`).toString('base64')];
  t.true(ts.issued.length > 0);
  for (const s of secrets) t.false(text.includes(s), `secret ${s.slice(0, 4)}... leaked`);
  t.notRegex(text, /authorization:\s*(basic|bearer)\s+[^*\s]/i);
});
