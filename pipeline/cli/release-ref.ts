import type { Config } from '../config/config.ts';
import { readRelease } from '../release/site.ts';
import type { Release } from '../release/types.ts';

/**
 * A release named on the command line: a file, a URL, or a name looked up in the site directory (and,
 * outside the local profile, on the published site).
 */
export function releaseFromArg(ref: string, config: Config): Promise<Release> {
  return readRelease(ref, { siteDir: config.site.dir, ...(config.profile === 'local' ? {} : { siteBaseUrl: config.site.baseUrl }) });
}
