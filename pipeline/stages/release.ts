/**
 * The release on the site: the archives, the Release manifest and the CRDs, each written once (an
 * identical object already there is fine, a different one stops the run), with its documents and its
 * page. Nothing points at the release yet: the channel file, the index pages and the feeds move only
 * after verify.
 */
import type { Config } from '../config/config.ts';
import type { Catalog } from '../catalog/model.ts';
import type { Plan } from '../plan/plan.ts';
import type { FetchedArtifact } from '../resolve/artifacts.ts';
import type { ComponentResult, Release, ReleaseInput } from '../release/types.ts';
import { buildRelease } from '../release/manifest.ts';
import { imageAssetName, manifestUrl } from '../release/naming.ts';
import { previousRelease, stageArchives, writeManifest } from '../site/site.ts';
import { releaseDocuments } from '../release/documents.ts';
import { fromIndexBytes } from '../site/pages/platforms.ts';
import { writeReleasePage } from '../site/pages/write.ts';
import { renderAnnouncement } from '../announce/render.ts';
import { attestationsPath, type ReleaseAttestations } from '../release/attestations.ts';
import { isPrecondition } from '../store/store.ts';
import type { Store } from '../store/store.ts';
import type { PublishedImage } from './images/published.ts';

export interface SiteOutcome { name: string; manifestPath: string; manifestUrl: string; written: boolean }

export interface SiteInput {
  /** The site's URL and the SNS topic, named in the manifest. */
  config: Pick<Config, 'site' | 'announce'>;
  catalog: Catalog;
  plan: Plan;
  images: PublishedImage[];
  artifacts: FetchedArtifact[];
  site: Store;
  /** status.date of the manifest */
  date: string;
  /** the commit of this repository the release was made from, when the CI says */
  commit?: string;
  /** What is attached to each image (signing configured): attestations.json, and a section of index.md. */
  attestations?: ReleaseAttestations;
}

export async function writeSite(input: SiteInput): Promise<SiteOutcome> {
  const manifest = releaseInput(input);
  await stageArchives(input.site, manifest);
  const written = await writeManifest(input.site, buildRelease(manifest));
  const url = manifestUrl(input.config.site.baseUrl, input.plan.channel, input.plan.number);
  if (input.attestations) await input.site.put(attestationsPath(input.plan.channel, input.plan.number), `${JSON.stringify(input.attestations, null, 2)}\n`);
  await writeDocuments(input, written.release, url, written.written);
  await writeReleasePage(input.site, written.release, fromIndexBytes(new Map(input.images.map((i) => [i.index.digest, i.indexBytes]))));
  return { name: input.plan.release, manifestPath: written.path, written: written.written, manifestUrl: url };
}

/**
 * index.md, CHANGELOG.md and announcement.txt beside the manifest. They go with the manifest this run
 * wrote; when the manifest was already there (a resumed run), only missing ones are written, so the
 * documents always describe the manifest as first published.
 */
async function writeDocuments(input: SiteInput, release: Release, url: string, manifestWritten: boolean): Promise<void> {
  const previous = await previousRelease(input.site, release.spec.channel, release.spec.number);
  const reasons = imageReasons(input.images);
  const announcementText = renderAnnouncement(release, { manifestUrl: url, reasons, ...(previous ? { previous } : {}) }).text;
  for (const doc of releaseDocuments({ release, manifestUrl: url, reasons, announcementText, ...(previous ? { previous } : {}),
    ...(input.attestations ? { attestations: input.attestations } : {}) })) {
    await input.site.put(doc.key, doc.text, manifestWritten ? {} : { ifNoneMatch: true }).catch((e: unknown) => { if (!isPrecondition(e)) throw e; });
  }
}

/** Why each image was rebuilt, by its asset name in the manifest. */
export function imageReasons(images: PublishedImage[]): Record<string, string> {
  return Object.fromEntries(images.filter((i) => i.changed).map((i) => [imageAssetName(i.plan.name), i.changed!]));
}

/** The Release manifest this input makes, as it would be written. */
export function releaseOf(input: Omit<SiteInput, 'site'>): Release {
  return buildRelease(releaseInput(input));
}

function releaseInput(s: Omit<SiteInput, 'site'>): ReleaseInput {
  const components: ComponentResult[] = s.catalog.components.map((c) => ({
    name: c.name, gitTag: c.gitTag, ...(c.gitCommit ? { gitCommit: c.gitCommit } : {}),
    images: s.images.filter((i) => i.plan.component === c.name && i.plan.release).map((i) => ({
      name: i.plan.name, repository: i.plan.repository, uri: i.plan.uri, digest: i.index.digest, description: i.plan.description,
      platforms: i.plan.platforms, ...(i.changed ? { changed: i.changed } : {}),
    })),
    archives: s.artifacts.filter((a) => a.spec.component === c.name && a.spec.release).map((a) => ({
      name: a.spec.name, project: a.spec.project, gitTag: a.spec.gitTag, path: a.path, os: a.spec.os,
      arch: [a.spec.platform.split('/')[1]!], description: a.spec.description, sha256: a.spec.sha256, sha512: a.spec.sha512,
    })),
  })).filter((c) => c.images.length > 0 || c.archives.length > 0);
  return { channel: s.plan.channel, number: s.plan.number, date: s.date, siteBaseUrl: s.config.site.baseUrl,
    ...(s.commit ? { buildRepoCommit: s.commit } : {}),
    ...(s.config.announce.topicArn ? { snsTopicArn: s.config.announce.topicArn } : {}), components };
}
