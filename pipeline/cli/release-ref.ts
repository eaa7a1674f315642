import type { Config } from '../config/config.ts';
import { readRelease } from '../site/site.ts';
import { openStores } from '../store/open.ts';
import type { Release } from '../release/types.ts';

/**
 * A release named on the command line: a file, a URL, or a name looked up in the site store (and,
 * outside the local profile, on the published site).
 */
export async function releaseFromArg(ref: string, config: Config): Promise<Release> {
  const { site } = await openStores(config);
  return readRelease(ref, { site, ...(config.profile === 'local' ? {} : { siteBaseUrl: config.site.baseUrl }) });
}
