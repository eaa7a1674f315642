/**
 * The stores a configuration names: with `site.bucket`, the site at the bucket's root (or `site.prefix`)
 * and the release state under `state/` beside it, both on S3; without, the site directory and the
 * state directory. The AWS SDK is loaded only for S3.
 */
import type { Config } from '../config/config.ts';
import { DirStore } from './dir.ts';
import type { Store } from './store.ts';

export interface Stores {
  /** what the distro site serves: manifests, archives, channel files, CRDs */
  site: Store;
  /** what must outlive a machine: lease, announcement ledger, run journal, base pin */
  state: Store;
}

export async function openStores(config: Config): Promise<Stores> {
  const bucket = config.site.bucket;
  if (!bucket) return { site: new DirStore(config.site.dir), state: new DirStore(config.stateDir) };
  const { S3Store } = await import('./s3.ts');
  const prefix = config.site.prefix ? config.site.prefix.replace(/\/*$/, '/') : '';
  const common = { bucket, region: config.aws.region, ...(config.aws.s3Endpoint ? { endpoint: config.aws.s3Endpoint } : {}) };
  return {
    site: new S3Store({ ...common, prefix, ...(config.site.acl ? { acl: config.site.acl } : {}) }),
    state: new S3Store({ ...common, prefix: `${prefix}state/` }),
  };
}
