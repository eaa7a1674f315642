/**
 * What is attached to each image of a release, as published beside its manifest
 * (`kubernetes-<ch>/releases/<N>/attestations.json`): for every image, its index's signature and, per
 * platform, the signature, SBOM and provenance artifact manifests, by digest. The release page, index.md
 * and the announcement show it; `eksd verify` does not trust it (it reads the registry).
 */
import { channelDir } from './naming.ts';

export interface AttestedSubject {
  /** The image index or platform manifest the statements are about. */
  digest: string;
  signature?: string;
  sbom?: string;
  provenance?: string;
}

export interface ImageAttestations {
  /** The asset name in the manifest, e.g. kube-apiserver-image. */
  asset: string;
  /** registry/repository, no tag. */
  repository: string;
  index: AttestedSubject;
  platforms: Record<string, AttestedSubject>;
}

export interface ReleaseAttestations {
  release: string;
  /** The key or identity that signed, and how to check it. */
  signer: string;
  images: ImageAttestations[];
}

export function attestationsPath(channel: string, number: number): string {
  return `${channelDir(channel)}/releases/${number}/attestations.json`;
}

export function parseAttestations(text: string): ReleaseAttestations | undefined {
  try {
    const v = JSON.parse(text) as ReleaseAttestations;
    return Array.isArray(v.images) ? v : undefined;
  } catch { return undefined; }
}

/** The markdown section of index.md: each image's statements and how to verify them. */
export function attestationsMarkdown(a: ReleaseAttestations): string[] {
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const lines = ['## Signatures, SBOMs and provenance', '',
    `Every image index and platform manifest is signed by ${a.signer}; every platform manifest has a CycloneDX SBOM and SLSA v1 provenance,`,
    'each a Sigstore bundle attached by digest (OCI referrers). Verify them all with `eksd verify ' + a.release + '`, or one image with',
    '`cosign verify --key signing-key.pub <repository>@<digest>` (cosign 3; the public key is published with the release engine\'s configuration).', '',
    row(['image', 'platform', 'digest', 'signature', 'SBOM', 'provenance']), row(['---', '---', '---', '---', '---', '---'])];
  for (const i of a.images) {
    lines.push(row([i.asset, 'index', i.index.digest, i.index.signature ?? '', '', '']));
    for (const [p, s] of Object.entries(i.platforms)) lines.push(row([i.asset, p, s.digest, s.signature ?? '', s.sbom ?? '', s.provenance ?? '']));
  }
  return [...lines, ''];
}
