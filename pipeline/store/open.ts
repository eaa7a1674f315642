/**
 * The stores a configuration names: with `site.bucket`, the site at the bucket's root (or `site.prefix`);
 * with `stateBucket` (default: the site's bucket), the release state under `statePrefix` (default
 * `state/`), never under the site (the configuration refuses that); without a bucket, the site directory
 * and the state directory. The AWS SDK is loaded only for S3.
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
  const { bucket } = config.site;
  const s3 = bucket || config.stateBucket ? await import('./s3.ts') : undefined;
  const common = { region: config.aws.region, ...(config.aws.s3Endpoint ? { endpoint: config.aws.s3Endpoint } : {}),
    ...(config.aws.s3TimeoutSeconds ? { timeoutMs: config.aws.s3TimeoutSeconds * 1000 } : {}) };
  const prefix = config.site.prefix ? config.site.prefix.replace(/\/*$/, '/') : '';
  return {
    site: s3 && bucket ? new s3.S3Store({ ...common, bucket, prefix, ...(config.site.acl ? { acl: config.site.acl } : {}) }) : new DirStore(config.site.dir),
    state: s3 && config.stateBucket ? new s3.S3Store({ ...common, bucket: config.stateBucket, prefix: config.statePrefix }) : new DirStore(config.stateDir),
  };
}
