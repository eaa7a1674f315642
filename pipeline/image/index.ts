/**
 * The multi-arch OCI image index: exactly one entry per platform, top-level mediaType always set, the
 * org.opencontainers.image.base.name/.base.digest/.version/.revision/.source/.created annotations (publish/index.ts pushes it by digest; tags move later).
 */
import { MEDIA, type Descriptor } from './media-types.ts';

export interface IndexEntry { platform: string; manifest: Descriptor }

export function indexBytes(entries: IndexEntry[], annotations: Record<string, string>): Buffer {
  const manifests = [...entries].sort((a, b) => a.platform.localeCompare(b.platform)).map((e) => {
    const [os, architecture] = e.platform.split('/');
    return { mediaType: e.manifest.mediaType, digest: e.manifest.digest, size: e.manifest.size,
      platform: { architecture, os }, ...(e.manifest.annotations ? { annotations: e.manifest.annotations } : {}) };
  });
  const sorted = Object.fromEntries(Object.entries(annotations).sort(([a], [b]) => a.localeCompare(b)));
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests, annotations: sorted }));
}
