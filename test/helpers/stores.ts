/**
 * Both Store adapters for tests that check one contract on each: a fresh temp directory, or a fresh
 * prefix in a bucket of the S3 stand-in (started and stopped with the test file).
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirStore } from '../../pipeline/store/dir.ts';
import { S3Store } from '../../pipeline/store/s3.ts';
import type { Store } from '../../pipeline/store/store.ts';
import { FakeS3 } from './fake-s3.ts';

/** Registers the stand-in's start and the clean-up with ava; returns the stand-in and a factory per adapter. */
export function bothStores(bucket: string): { s3: FakeS3; adapters: Record<'dir' | 's3', () => Promise<Store>> } {
  const s3 = new FakeS3([bucket]);
  const dirs: string[] = [];
  test.before(async () => {
    await s3.start();
    process.env.AWS_ACCESS_KEY_ID = 'AKIDLOCAL';
    process.env.AWS_SECRET_ACCESS_KEY = 'local-secret';
  });
  test.after.always(async () => { await s3.stop(); await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))); });
  let n = 0;
  return {
    s3,
    adapters: {
      dir: async () => { const d = await mkdtemp(join(tmpdir(), 'eksd-store-')); dirs.push(d); return new DirStore(d); },
      s3: async () => new S3Store({ bucket, prefix: `p${++n}/`, region: 'us-east-1', endpoint: s3.endpoint }),
    },
  };
}
