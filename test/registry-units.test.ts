import test from 'ava';
import { isEksdError } from '../pipeline/errors.ts';
import {
  backoffDelay, credentialsFromDockerConfig, dockerConfigCredentials, HostGate, isLoopback, nextLink, parseChallenge,
  parseErrorBody, parseErrorEntries, parseReference, parseRetryAfter, validateDigest, validateRepository, validateTag, verifyManifestDigest,
  digestOf, formatReference, RegistryError,
} from '../pipeline/registry/index.ts';
import { covers, mountScope, parseScopes, scopeKey } from '../pipeline/registry/scopes.ts';
import { withRetry } from '../pipeline/registry/http.ts';
import { statusError } from '../pipeline/registry/errors.ts';

const D = `sha256:${'a'.repeat(64)}`;

test('parseReference: registry with port, nested repository, tag', (t) => {
  t.deepEqual(parseReference('127.0.0.1:5000/eks-distro/etcd-io/etcd:v3.5.21'),
    { registry: '127.0.0.1:5000', repository: 'eks-distro/etcd-io/etcd', tag: 'v3.5.21' });
});

test('parseReference: digest, tag+digest, public.ecr.aws, docker hub default', (t) => {
  t.deepEqual(parseReference(`localhost:5000/a/b@${D}`), { registry: 'localhost:5000', repository: 'a/b', digest: D });
  t.deepEqual(parseReference(`public.ecr.aws/x/y:tag@${D}`), { registry: 'public.ecr.aws', repository: 'x/y', tag: 'tag', digest: D });
  t.deepEqual(parseReference('public.ecr.aws/eks-distro/kubernetes/pause:v1.33.0-eks-1-33-18'),
    { registry: 'public.ecr.aws', repository: 'eks-distro/kubernetes/pause', tag: 'v1.33.0-eks-1-33-18' });
  t.deepEqual(parseReference('alpine:3'), { registry: 'docker.io', repository: 'library/alpine', tag: '3' });
  t.deepEqual(parseReference('[::1]:5000/a:b'), { registry: '[::1]:5000', repository: 'a', tag: 'b' });
  t.is(formatReference(parseReference(`h:1/a:t@${D}`)), `h:1/a:t@${D}`);
});

test('parseReference: rejects bad input with REFERENCE_INVALID', (t) => {
  for (const bad of ['127.0.0.1:5000/Upper/x:t', 'h.io/a:v1+build', 'h.io/a', 'h.io/a@sha256:abc', 'h.io/a//b:t', 'h.io/-a:t']) {
    const e = t.throws(() => parseReference(bad), undefined, bad);
    t.true(isEksdError(e, 'REFERENCE_INVALID'), bad);
    t.truthy((e as { hint?: string }).hint);
  }
});

test('validateTag and validateRepository return a reason or undefined', (t) => {
  t.is(validateTag('v1.33.0-eks-1-33-18'), undefined);
  t.is(validateTag('_x'), undefined);
  t.regex(validateTag('v1.0+build')!, /\+.*ECR/);
  t.truthy(validateTag('.hidden'));
  t.truthy(validateTag('-x'));
  t.truthy(validateTag('a'.repeat(129)));
  t.truthy(validateTag(''));
  t.is(validateRepository('eks-distro/kubernetes-sigs/aws-iam-authenticator'), undefined);
  t.is(validateRepository('a__b/c.d/e--f'), undefined);
  t.regex(validateRepository('Eks/x')!, /lower case/);
  t.truthy(validateRepository('a/'));
  t.truthy(validateRepository('a___b'));
  t.truthy(validateRepository('x'.repeat(256)));
  t.is(validateDigest(D), undefined);
  t.truthy(validateDigest('sha256:ABC'));
  t.truthy(validateDigest('md5:abc'));
});

test('parseChallenge reads Bearer and Basic challenges', (t) => {
  const c = parseChallenge('Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a/b:push,pull repository:c:pull"');
  t.is(c?.scheme, 'bearer');
  t.deepEqual(c?.params, { realm: 'http://127.0.0.1:1/token', service: 'reg', scope: 'repository:a/b:push,pull repository:c:pull' });
  t.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
  t.is(parseChallenge(null), undefined);
});

test('scopes: parse, normalise, cover; mount asks for both repositories', (t) => {
  const s = parseScopes('repository:a/b:push,pull repository:c:pull');
  t.is(scopeKey(s), 'repository:a/b:pull,push repository:c:pull');
  t.is(scopeKey(mountScope('a/b', 'c')), scopeKey(s));
  t.true(covers(s, parseScopes('repository:a/b:pull')));
  t.false(covers(s, parseScopes('repository:c:push')));
  t.true(covers(parseScopes('repository:x:*'), parseScopes('repository:x:delete')));
});

test('Retry-After: seconds and HTTP dates; backoff is full jitter under the ceiling', (t) => {
  t.is(parseRetryAfter('1'), 1000);
  t.is(parseRetryAfter('0'), 0);
  t.is(parseRetryAfter(null), undefined);
  const now = Date.parse('2025-01-01T00:00:00Z');
  t.is(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now), 5000);
  const p = { attempts: 6, baseMs: 100, maxMs: 1000 };
  t.is(backoffDelay(1, p, () => 0.999), 99);
  t.is(backoffDelay(3, p, () => 0.5), 200);
  t.is(backoffDelay(10, p, () => 0.999), 999);
  t.is(backoffDelay(2, p, () => 0), 0);
});

test('withRetry: retries retryable errors, stops at the attempt bound and names the attempts', async (t) => {
  const ctx = { registry: 'r:1', repository: 'a/b', reference: 'v1', operation: 'get manifest' };
  let calls = 0;
  const ok = await withRetry(async () => { if (++calls < 3) throw statusError(ctx, 503, ''); return 'done'; },
    { policy: { attempts: 5, baseMs: 1, maxMs: 2 } });
  t.is(ok, 'done');
  t.is(calls, 3);
  calls = 0;
  const e = await t.throwsAsync(withRetry(async () => { calls++; throw statusError(ctx, 500, '{"errors":[{"code":"UNKNOWN","message":"boom"}]}'); },
    { policy: { attempts: 4, baseMs: 1, maxMs: 2 } }));
  t.is(calls, 4);
  t.regex(e!.message, /gave up after 4 attempts/);
  t.regex(e!.message, /r:1\/a\/b:v1/);
  calls = 0;
  await t.throwsAsync(withRetry(async () => { calls++; throw statusError(ctx, 404, ''); }, { policy: { attempts: 4, baseMs: 1, maxMs: 2 } }));
  t.is(calls, 1, '404 is not retried');
});

test('registry error bodies map to typed codes naming registry, repository and reference', (t) => {
  const ctx = { registry: '127.0.0.1:5000', repository: 'eks/etcd', reference: 'v3', operation: 'get manifest' };
  const e = statusError(ctx, 404, '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v3"}}]}');
  t.true(e instanceof RegistryError);
  t.is(e.code, 'REGISTRY_MANIFEST_UNKNOWN');
  t.regex(e.message, /127\.0\.0\.1:5000\/eks\/etcd:v3/);
  t.truthy(e.hint);
  t.false(e.retryable);
  t.is(statusError(ctx, 429, '').code, 'REGISTRY_TOOMANYREQUESTS');
  t.true(statusError(ctx, 429, '').retryable);
  t.is(statusError(ctx, 502, 'bad gateway').code, 'REGISTRY_UNAVAILABLE');
  t.deepEqual(parseErrorBody('not json'), {});
});

/** What distribution 2.8 answers a manifest PUT that found a blob's link unreadable (being rewritten). */
const BLOB = `sha256:ac8d${'4'.repeat(60)}`;
const RACE_BODY = JSON.stringify({ errors: [
  { code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' },
  { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry', detail: BLOB },
] });
const putCtx = { registry: '127.0.0.1:5000', repository: 'eks-distro/kubernetes/kube-proxy', reference: D, operation: 'put manifest' };

test('an error body with several errors: every code in the message, typed by the one that says what is wrong', (t) => {
  const e = statusError(putCtx, 400, RACE_BODY);
  t.is(e.code, 'REGISTRY_MANIFEST_BLOB_UNKNOWN');
  t.is(e.registryCode, 'MANIFEST_BLOB_UNKNOWN');
  t.deepEqual(e.registryErrors, [
    { code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' },
    { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry', detail: BLOB },
  ]);
  t.is(e.message, `put manifest 127.0.0.1:5000/eks-distro/kubernetes/kube-proxy@${D} failed (HTTP 400 MANIFEST_BLOB_UNKNOWN, DIGEST_INVALID): `
    + `MANIFEST_BLOB_UNKNOWN blob unknown to registry: ${BLOB}; DIGEST_INVALID provided digest did not match uploaded content`);
  t.false(e.retryable);
});

test('each code of an error body has its own hint; blob unknown names the digest and the repository', (t) => {
  const hint = statusError(putCtx, 400, RACE_BODY).hint!;
  const [blobUnknown, digestInvalid] = hint.split('. DIGEST_INVALID: ');
  t.true(blobUnknown!.startsWith('MANIFEST_BLOB_UNKNOWN: eks-distro/kubernetes/kube-proxy does not have '), hint);
  t.true(blobUnknown!.includes(BLOB));
  t.true(blobUnknown!.includes(`HEAD /v2/eks-distro/kubernetes/kube-proxy/blobs/${BLOB}`));
  t.regex(blobUnknown!, /push or mount every blob and child manifest into eks-distro\/kubernetes\/kube-proxy before the manifest/);
  t.regex(digestInvalid!, /no bad content: the registry could not read the link of that blob/);
  t.false(hint.includes('uploaded bytes do not match'), 'not the hint of a bad upload');
});

test('DIGEST_INVALID alone: a bad upload, or a manifest changed on its way', (t) => {
  const body = '{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}';
  const upload = statusError({ ...putCtx, operation: 'upload blob' }, 400, body);
  t.is(upload.code, 'REGISTRY_DIGEST_INVALID');
  t.regex(upload.hint!, /the uploaded bytes do not match their digest/);
  t.is(upload.message, `upload blob 127.0.0.1:5000/eks-distro/kubernetes/kube-proxy@${D} failed (HTTP 400 DIGEST_INVALID): provided digest did not match uploaded content`);
  const manifest = statusError(putCtx, 400, body);
  t.is(manifest.code, 'REGISTRY_DIGEST_INVALID');
  t.regex(manifest.hint!, /changed the bytes/);
});

test('many missing blobs: repeats dropped, the first few listed and the rest counted', (t) => {
  const digests = [1, 2, 3, 4, 5, 6, 7].map((i) => `sha256:${String(i).repeat(64)}`);
  const errors = digests.flatMap((d) => [
    { code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' },
    { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry', detail: d },
  ]);
  const e = statusError({ ...putCtx, reference: 'v1' }, 400, JSON.stringify({ errors }));
  t.is(e.code, 'REGISTRY_MANIFEST_BLOB_UNKNOWN');
  t.is(e.registryErrors?.length, 8, 'seven blobs and one DIGEST_INVALID');
  t.regex(e.message, /\(HTTP 400 MANIFEST_BLOB_UNKNOWN, DIGEST_INVALID\)/);
  for (const d of digests.slice(0, 6)) t.true(e.message.includes(d), d);
  t.false(e.message.includes(digests[6]!));
  t.true(e.message.endsWith('; and 2 more'), e.message);
  t.true(e.hint!.includes(`${digests[0]}, ${digests[1]}, ${digests[2]} and 4 more that the manifest refers to`), e.hint);
  t.true(e.hint!.includes('/blobs/<digest>'));
});

test('codes without a hint of their own keep the general hint; BLOB_UNKNOWN names its digest', (t) => {
  const ctx = { registry: 'r:1', repository: 'a/b', reference: D, operation: 'get blob' };
  const e = statusError(ctx, 404, JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: D }] }));
  t.is(e.code, 'REGISTRY_BLOB_UNKNOWN');
  t.is(e.hint, `${D} is not in a/b: push it or mount it from a repository that has it`);
  const two = statusError(ctx, 403, JSON.stringify({ errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' },
    { code: 'NAME_UNKNOWN', message: 'repository name not known to registry', detail: { name: 'a/b' } }] }));
  t.is(two.code, 'REGISTRY_DENIED');
  t.regex(two.message, /\(HTTP 403 DENIED, NAME_UNKNOWN\): DENIED requested access to the resource is denied; NAME_UNKNOWN repository name not known to registry: \{"name":"a\/b"\}$/);
  t.regex(two.hint!, /^DENIED: the credentials are valid but lack permission.*\. NAME_UNKNOWN: the repository does not exist/);
  t.is(statusError(ctx, 500, '{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}').code, 'REGISTRY_UNKNOWN');
});

test('parseErrorEntries: every entry with a code, details as text, anything else ignored', (t) => {
  t.deepEqual(parseErrorEntries(RACE_BODY).map((e) => e.code), ['DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN']);
  t.deepEqual(parseErrorEntries('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v3"}},{"code":"lower"},{"message":"no code"},null,"x"]}'),
    [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: '{"Tag":"v3"}' }]);
  for (const body of ['not json', '', 'null', '{"errors":{}}', '{"errors":"x"}', '[]']) t.deepEqual(parseErrorEntries(body), [], body);
  t.deepEqual(parseErrorBody(RACE_BODY), { code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' });
});

test('withRetry: the error it gives up with keeps every entry of the body', async (t) => {
  const body = '{"errors":[{"code":"UNAVAILABLE","message":"busy"},{"code":"TOOMANYREQUESTS","message":"slow down"}]}';
  const e = await t.throwsAsync(withRetry(async () => { throw statusError(putCtx, 503, body); }, { policy: { attempts: 2, baseMs: 1, maxMs: 2 } }));
  t.is((e as RegistryError).registryErrors?.length, 2);
  t.is((e as RegistryError).registryCode, 'UNAVAILABLE');
});

test('Link pagination header is read', (t) => {
  t.is(nextLink('</v2/a/tags/list?last=t2&n=2>; rel="next"'), '/v2/a/tags/list?last=t2&n=2');
  t.is(nextLink(null), undefined);
  t.is(nextLink('</x>; rel="prev"'), undefined);
});

test('manifest digest verification catches a body that does not match the requested digest', (t) => {
  const ctx = { registry: 'r:1', repository: 'a', reference: '', operation: 'get manifest' };
  const bytes = Buffer.from('{"schemaVersion":2}');
  const d = digestOf(bytes);
  t.is(verifyManifestDigest(bytes, d, null, ctx), d);
  t.is(verifyManifestDigest(bytes, 'v1', d, ctx), d);
  t.is(verifyManifestDigest(bytes, 'v1', null, ctx), d);
  const e = t.throws(() => verifyManifestDigest(Buffer.from('{"schemaVersion":3}'), d, null, ctx));
  t.is((e as RegistryError).code, 'REGISTRY_DIGEST_MISMATCH');
  t.throws(() => verifyManifestDigest(bytes, 'v1', D, ctx));
});

test('docker config credentials: base64 auth, username/password, hub aliases, missing file', async (t) => {
  const auth = Buffer.from('user:pa:ss').toString('base64');
  t.deepEqual(credentialsFromDockerConfig({ auths: { '127.0.0.1:5000': { auth } } }, '127.0.0.1:5000'), { username: 'user', password: 'pa:ss' });
  t.deepEqual(credentialsFromDockerConfig({ auths: { 'https://h.io/v1/': { username: 'u', password: 'p' } } }, 'h.io'), { username: 'u', password: 'p' });
  t.deepEqual(credentialsFromDockerConfig({ auths: { 'https://index.docker.io/v1/': { auth } } }, 'docker.io'), { username: 'user', password: 'pa:ss' });
  t.is(credentialsFromDockerConfig({ auths: {} }, 'h.io'), undefined);
  t.is(await dockerConfigCredentials('h.io', { path: '/nonexistent/config.json' }).get(), undefined);
});

test('isLoopback', (t) => {
  for (const h of ['127.0.0.1:5000', 'localhost', 'localhost:1', '[::1]:5000', '127.1.2.3']) t.true(isLoopback(h), h);
  for (const h of ['public.ecr.aws', '10.0.0.1:5000', 'localhost.example.com']) t.false(isLoopback(h), h);
});

test('HostGate: bounds requests in flight and shares a pause', async (t) => {
  const gate = new HostGate(2);
  let active = 0;
  let peak = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    const release = await gate.acquire();
    peak = Math.max(peak, ++active);
    await new Promise((r) => setTimeout(r, 5));
    active--;
    release();
  }));
  t.is(peak, 2);
  const start = Date.now();
  gate.pause(150);
  (await gate.acquire())();
  t.true(Date.now() - start >= 150);
});
