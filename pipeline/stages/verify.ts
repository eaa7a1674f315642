/**
 * Verify what is public before anything points at it (a release run) or announces it (`eksd announce`):
 * every image of the manifest re-read from the registry, the manifest and every archive from the site
 * store and from the public site.
 */
import type { Config } from '../config/config.ts';
import { EksdError } from '../errors.ts';
import type { Release } from '../release/types.ts';
import { readRelease } from '../site/site.ts';
import { verifyRelease, type VerifyReport } from '../site/verify.ts';
import type { ClientFactory } from '../registry/client.ts';
import type { Store } from '../store/store.ts';
import type { BundleVerifier } from '../sign/port.ts';

/** Where the site is served from (the manifest's URLs), and where to read it back publicly, if anywhere. */
export type SiteUrls = Pick<Config['site'], 'baseUrl' | 'verifyUrl'>;

export interface VerifyInput { urls: SiteUrls; name: string; site: Store; clients: ClientFactory;
  /** Check the images' signatures, SBOMs and provenance with it (signing configured). */
  verifier?: BundleVerifier }

/** The release as the site store holds it, verified; any problem stops the run (nothing is announced). */
export async function verifyPublished(input: VerifyInput): Promise<{ release: Release; report: VerifyReport }> {
  const release = await readRelease(input.name, { site: input.site });
  return { release, report: await verifyOrThrow(release, input, { published: true }) };
}

/** A release the site serves (`eksd announce`), verified against the registry and the site; VERIFY_FAILED otherwise. */
export function verifyServed(input: Omit<VerifyInput, 'name'> & { release: Release }): Promise<VerifyReport> {
  return verifyOrThrow(input.release, input, {});
}

async function verifyOrThrow(release: Release, input: Omit<VerifyInput, 'name'>, o: { published?: true }): Promise<VerifyReport> {
  const { urls } = input;
  const report = await verifyRelease(release, { client: input.clients, site: input.site, siteBaseUrl: urls.baseUrl, ...o,
    ...(input.verifier ? { verifier: input.verifier } : {}),
    ...(urls.verifyUrl ? { publicUrl: urls.verifyUrl } : {}) });
  if (report.problems.length > 0) throw verifyError(report);
  return report;
}

export function verifyError(report: VerifyReport): EksdError {
  const lines = report.problems.map((p) => `${p.component}/${p.asset}: ${p.problem}`);
  return new EksdError('VERIFY_FAILED', `${report.release} failed verification with ${lines.length} problem(s); it was not announced:\n  ${lines.join('\n  ')}`, {
    where: report.release, hint: 'republish the missing pieces (eksd republish) or re-run the release; nothing is announced until verify passes',
  });
}

export function verifyDetail(report: VerifyReport, verifyUrl?: string): string {
  return `${report.images} images, ${report.manifests} manifests, ${report.blobs} blobs, ${report.archives} archives${report.attestations ? `, ${report.attestations} attestations` : ''}${verifyUrl ? `, read back from ${verifyUrl}` : ''}`;
}
