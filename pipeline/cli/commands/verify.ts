import { EksdError } from '../../errors.ts';
import { verifyRelease } from '../../site/verify.ts';
import { registryClients } from '../../app/clients.ts';
import { verifierFor } from '../../app/signing.ts';
import { textTable } from '../../report/table.ts';
import { CONFIG_OPTIONS, EXIT, type Command } from '../command.ts';
import { configFrom } from '../config-flags.ts';
import { releaseFromArg } from '../release-ref.ts';
import { openStores } from '../../store/open.ts';
import { parseReleaseName } from '../../release/naming.ts';
import { parseInt } from './release.ts';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check a release against the registry and the site: tags, digests, platforms, blobs, archive checksums',
  usage: 'eksd verify <manifest file | release name | URL> [--json]',
  details: 'Every image tag must resolve to its imageDigest (tags that appear late are retried), every index must have\nexactly the listed platforms, every manifest, config and layer must exist, every archive must match both\nchecksums (read back from the site store, and from site.verifyUrl when set). For a release name, the site must\nserve that very manifest. With signing configured, every index and platform manifest must carry a signature,\nand every platform manifest an SBOM and a provenance statement, that verify against the configured key or identity. Lists every mismatch; exit code 3 when there is any.',
  options: {
    ...CONFIG_OPTIONS,
    json: { type: 'boolean', description: 'print the report as JSON' },
    attempts: { type: 'string', description: 'tries for a tag that does not resolve yet (default 5)', valueName: 'N' },
  },
  async run(ctx) {
    const ref = ctx.args[0];
    if (!ref) throw new EksdError('USAGE', 'which release? give a manifest file, a release name or a URL', { hint: 'eksd verify kubernetes-1-33-eks-1' });
    const config = configFrom(ctx);
    const release = await releaseFromArg(ref, config);
    const attempts = parseInt(ctx.values.attempts, 'attempts');
    const { site } = await openStores(config);
    const verifier = await verifierFor(config);
    const report = await verifyRelease(release, { client: registryClients(config), site, siteBaseUrl: config.site.baseUrl,
      published: parseReleaseName(ref) !== undefined, ...(config.site.verifyUrl ? { publicUrl: config.site.verifyUrl } : {}),
      ...(attempts ? { attempts } : {}), ...(verifier ? { verifier } : {}) });
    if (ctx.values.json) ctx.out(JSON.stringify(report, null, 2));
    else if (report.problems.length === 0) {
      ctx.out(`${report.release}: verified ${report.images} images, ${report.manifests} manifests, ${report.blobs} blobs, ${report.archives} archives`
        + (verifier ? `, ${report.attestations} signatures, SBOMs and provenance statements (${verifier.describe})` : ''));
    } else {
      ctx.out(textTable(['COMPONENT', 'ASSET', 'PROBLEM'], report.problems.map((p) => [p.component, p.asset, p.problem])));
      ctx.out(`\n${report.release}: ${report.problems.length} problem(s)`);
    }
    return report.problems.length === 0 ? EXIT.ok : EXIT.verifyFailed;
  },
};
