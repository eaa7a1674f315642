/**
 * Package URLs (purl spec) for what an SBOM lists: an image by digest (`pkg:oci`) and a downloaded
 * artifact (`pkg:generic` with its download URL). Qualifiers are sorted by key and percent-encoded.
 */

/** `pkg:oci/<name>@<digest>?arch=<arch>&repository_url=<repository>`; name is the repository's last segment. */
export function ociPurl(repository: string, digest: string, platform?: string): string {
  const name = repository.split('/').pop()!.toLowerCase();
  const arch = platform?.split('/')[1];
  return `pkg:oci/${encodeURIComponent(name)}@${encodeURIComponent(digest)}${qualifiers({ arch, repository_url: repository })}`;
}

/** `pkg:generic/<name>@<version>?download_url=<uri>` (no `@` part without a version). */
export function genericPurl(name: string, version: string | undefined, uri: string): string {
  const at = version ? `@${encodeURIComponent(version)}` : '';
  return `pkg:generic/${encodeURIComponent(name)}${at}${qualifiers({ download_url: uri })}`;
}

/** The repository of an image reference: without `@digest` and without `:tag` (a registry port stays). */
export function repositoryOf(reference: string): string {
  const noDigest = reference.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

function qualifiers(q: Record<string, string | undefined>): string {
  const pairs = Object.entries(q)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  return pairs.length ? `?${pairs.join('&')}` : '';
}
