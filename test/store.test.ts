/**
 * The Store port: the same contract checked on both adapters — the directory and S3 (through the SDK
 * against the S3 stand-in): create-only and replace-only-this-version writes, listing, write-once
 * comparison, and the errors that must stop a run (AccessDenied is never "absent").
 */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isPrecondition, putOnce, type ConditionFailed } from '../pipeline/store/store.ts';
import { S3Store } from '../pipeline/store/s3.ts';
import { proveConditionalWrites } from '../pipeline/store/probe.ts';
import { isEksdError, type EksdError } from '../pipeline/errors.ts';
import { bothStores } from './helpers/stores.ts';

const { s3, adapters: adapters } = bothStores('site');

for (const [name, make] of Object.entries(adapters)) {
  test(`${name}: create-only, replace-only-this-version, delete-if-match`, async (t) => {
    const store = await make();
    t.is(await store.get('a/b.yaml'), undefined);
    const e1 = await store.put('a/b.yaml', 'one', { ifNoneMatch: true });
    t.true(isPrecondition(await t.throwsAsync(store.put('a/b.yaml', 'two', { ifNoneMatch: true }))));
    t.is((await store.get('a/b.yaml'))!.bytes.toString(), 'one');
    const e2 = await store.put('a/b.yaml', 'two', { ifMatch: e1 });
    t.not(e2, e1);
    t.true(isPrecondition(await t.throwsAsync(store.put('a/b.yaml', 'three', { ifMatch: e1 }))));
    t.is((await store.get('a/b.yaml'))!.etag, e2);
    t.true(isPrecondition(await t.throwsAsync(store.delete('a/b.yaml', { ifMatch: e1 }))));
    await store.delete('a/b.yaml', { ifMatch: e2 });
    t.is(await store.get('a/b.yaml'), undefined);
  });

  test(`${name}: list names the objects directly under a prefix`, async (t) => {
    const store = await make();
    for (const k of ['ch/x-1.yaml', 'ch/x-2.yaml', 'ch/releases/1/a.tar.gz', 'other/y']) await store.put(k, k);
    t.deepEqual(await store.list('ch/'), ['x-1.yaml', 'x-2.yaml']);
    t.deepEqual(await store.list('none/'), []);
  });

  test(`${name}: folders names the folders directly under a prefix`, async (t) => {
    const store = await make();
    for (const k of ['mirrors/a_5000/r-1.yaml', 'mirrors/b/r-1.yaml', 'mirrors/b/deeper/r.yaml', 'mirrors/file.yaml']) await store.put(k, k);
    t.deepEqual(await store.folders('mirrors/'), ['a_5000', 'b']);
    t.deepEqual(await store.folders('mirrors/b/'), ['deeper']);
    t.deepEqual(await store.folders('none/'), []);
  });

  test(`${name}: putOnce keeps equal bytes and refuses different ones, naming the key`, async (t) => {
    const store = await make();
    t.is(await putOnce(store, 'm.yaml', 'same'), 'written');
    t.is(await putOnce(store, 'm.yaml', 'same'), 'unchanged');
    const e = await t.throwsAsync(putOnce(store, 'm.yaml', 'other'));
    t.true(isEksdError(e, 'STORE_OBJECT_EXISTS'));
    t.true(e!.message.includes(store.where('m.yaml')));
  });

  test(`${name}: a file body is written and read back as a stream; putOnce compares files by digest`, async (t) => {
    const store = await make();
    const dir = await mkdtemp(join(tmpdir(), 'eksd-store-stream-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const content = Buffer.concat([Buffer.alloc(3_000_000, 1), Buffer.from('end')]);
    await writeFile(join(dir, 'a.tar.gz'), content);
    await writeFile(join(dir, 'b.tar.gz'), Buffer.concat([Buffer.alloc(3_000_000, 1), Buffer.from('END')]));
    t.is(await store.read('big/a.tar.gz'), undefined);
    t.is(await putOnce(store, 'big/a.tar.gz', { file: join(dir, 'a.tar.gz') }), 'written');
    const stream = await store.read('big/a.tar.gz');
    t.truthy(stream);
    const chunks: Buffer[] = [];
    for await (const chunk of stream!) chunks.push(Buffer.from(chunk as Uint8Array));
    t.true(Buffer.concat(chunks).equals(content));
    t.true(chunks.length > 1, 'read in chunks');
    t.is(await putOnce(store, 'big/a.tar.gz', { file: join(dir, 'a.tar.gz') }), 'unchanged');
    t.true(isEksdError(await t.throwsAsync(putOnce(store, 'big/a.tar.gz', { file: join(dir, 'b.tar.gz') })), 'STORE_OBJECT_EXISTS'));
  });

  test(`${name}: concurrent create-only writes: exactly one wins`, async (t) => {
    const store = await make();
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.put('lease.json', `holder ${i}`, { ifNoneMatch: true })));
    t.is(results.filter((r) => r.status === 'fulfilled').length, 1);
    t.true(results.filter((r) => r.status === 'rejected').every((r) => isPrecondition((r as PromiseRejectedResult).reason)));
  });
}

test('s3: AccessDenied on a read is an error naming bucket and key, never "absent"', async (t) => {
  const store = await adapters.s3!();
  s3.failNext({ method: 'GET', key: /eks-1\.yaml$/, status: 403, code: 'AccessDenied' });
  const e = await t.throwsAsync(store.get('kubernetes-1-33/kubernetes-1-33-eks-1.yaml'));
  t.true(isEksdError(e, 'STORE_ACCESS_DENIED'));
  t.regex(e!.message, /s3:\/\/site\/p\d+\/kubernetes-1-33\/kubernetes-1-33-eks-1\.yaml/);
});

test('s3: a create-only write whose reply is lost, retried by the SDK, is "unchanged" for putOnce', async (t) => {
  const store = await adapters.s3!();
  s3.failNext({ method: 'PUT', key: /once\.yaml$/, drop: true });
  t.is(await putOnce(store, 'once.yaml', 'body'), 'unchanged');
  t.is((await store.get('once.yaml'))!.bytes.toString(), 'body');
});

test('s3: a file body is streamed with its length', async (t) => {
  const store = await adapters.s3!();
  const dir = await mkdtemp(join(tmpdir(), 'eksd-store-file-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'f.tar.gz'), Buffer.alloc(300_000, 7));
  await store.put('a/f.tar.gz', { file: join(dir, 'f.tar.gz') }, { ifNoneMatch: true });
  t.deepEqual((await store.get('a/f.tar.gz'))!.bytes, Buffer.alloc(300_000, 7));
});

test('s3: If-Match on a key that was deleted (S3 answers 404) is a failed condition: gone', async (t) => {
  const store = await adapters.s3!();
  const etag = await store.put('lease.json', 'mine', { ifNoneMatch: true });
  await store.delete('lease.json');
  const e = await t.throwsAsync(store.put('lease.json', 'mine again', { ifMatch: etag }));
  t.true(isPrecondition(e));
  t.is((e as ConditionFailed).reason, 'gone');
  t.regex(e!.message, /s3:\/\/site\/p\d+\/lease\.json was removed since it was read/);
  t.is(await store.get('lease.json'), undefined, 'nothing was written');
});

test('dir: replace-only-this-version of a removed file is a failed condition: gone', async (t) => {
  const store = await adapters.dir!();
  const etag = await store.put('lease.json', 'mine', { ifNoneMatch: true });
  await store.delete('lease.json');
  t.is(((await t.throwsAsync(store.put('lease.json', 'again', { ifMatch: etag }))) as ConditionFailed).reason, 'gone');
});

test('s3: 409 ConditionalRequestConflict on a conditional write is a failed condition to retry (STORE_CONFLICT); putOnce retries it', async (t) => {
  const store = await adapters.s3!();
  s3.failNext({ method: 'PUT', key: /race\.json$/, conditional: true, status: 409, code: 'ConditionalRequestConflict' });
  const e = await t.throwsAsync(store.put('race.json', 'a', { ifNoneMatch: true }));
  t.true(isEksdError(e, 'STORE_CONFLICT'));
  t.is((e as ConditionFailed).reason, 'conflict');
  t.regex(e!.message, /race\.json was being written by another request at the same time/);
  s3.failNext({ method: 'PUT', key: /once-race\.yaml$/, conditional: true, status: 409, code: 'ConditionalRequestConflict' });
  t.is(await putOnce(store, 'once-race.yaml', 'body'), 'written', 'retried after the conflict');
});

test('s3: a hung request fails after the timeout naming bucket and key, instead of blocking the run', async (t) => {
  const store = new S3Store({ bucket: 'site', prefix: 'hang/', region: 'us-east-1', endpoint: s3.endpoint, timeoutMs: 400 });
  s3.failNext(...Array.from({ length: 5 }, () => ({ method: 'PUT' as const, key: /stuck\.yaml$/, hang: true })));
  const started = Date.now();
  const e = await t.throwsAsync(store.put('stuck.yaml', 'x'));
  t.true(isEksdError(e, 'STORE_TIMEOUT'), String(e));
  t.regex(e!.message, /cannot write s3:\/\/site\/hang\/stuck\.yaml: S3 did not answer within 0\.4 s/);
  t.true(Date.now() - started < 15_000, `gave up after ${Date.now() - started} ms`);
});

test('s3: an object read says how old it is by the store\'s clock', async (t) => {
  const store = await adapters.s3!();
  await store.put('aged.json', 'x');
  await sleep(2100);
  const age = (await store.get('aged.json'))!.ageMs!;
  t.true(age >= 1000 && age <= 4000, `age ${age} ms`);
});

test('s3: ACL errors get their own hint (ACLs disabled; Block Public Access)', async (t) => {
  const store = new S3Store({ bucket: 'site', prefix: 'acl/', region: 'us-east-1', endpoint: s3.endpoint, acl: 'public-read' });
  s3.failNext({ method: 'PUT', key: /a\.yaml$/, status: 400, code: 'AccessControlListNotSupported' });
  const e1 = await t.throwsAsync(store.put('a.yaml', 'x'));
  t.regex((e1 as EksdError).hint ?? '', /Object Ownership is "bucket owner enforced".*unset site\.acl/);
  s3.failNext({ method: 'PUT', key: /b\.yaml$/, status: 403, code: 'AccessDenied' });
  const e2 = await t.throwsAsync(store.put('b.yaml', 'x'));
  t.true(isEksdError(e2, 'STORE_ACCESS_DENIED'));
  t.regex((e2 as EksdError).hint ?? '', /public-read ACL is refused: if S3 Block Public Access/);
  t.regex(e2!.message, /s3:\/\/site\/acl\/b\.yaml/);
});

for (const [name, make] of Object.entries(adapters)) {
  test(`${name}: the conditional-write probe passes on a store that honours them and leaves nothing behind`, async (t) => {
    const store = await make();
    await proveConditionalWrites(store);
    t.deepEqual(await store.list('probes/'), []);
  });
}

test.serial('s3: the probe also refuses a store that honours create-only writes but ignores If-Match', async (t) => {
  const store = new S3Store({ bucket: 'site', prefix: 'if-match/', region: 'us-east-1', endpoint: s3.endpoint });
  s3.ignoreIfMatch = true;
  try {
    const e = await t.throwsAsync(() => proveConditionalWrites(store));
    t.regex(e!.message, /the state store accepted a write under another version \(If-Match\) of s3:\/\/site\/if-match\/probes\//);
  } finally {
    s3.ignoreIfMatch = false;
  }
  t.deepEqual(await store.list('probes/'), []);
});
