/**
 * Release, verify, announce: puts the archives, the Release manifest and the CRDs on the site
 * (write-once), re-reads everything from the registry, the site store and the public site, then moves
 * the pointers (the channel file, the floating tags) and only then announces, once, while this run
 * still holds the channel's lease.
 */
import type { Config } from '../config/config.ts';
import { EksdError } from '../errors.ts';
import type { Catalog } from '../catalog/model.ts';
import type { Plan } from '../plan/plan.ts';
import type { FetchedArtifact } from '../resolve/artifacts.ts';
import type { ComponentResult, Release, ReleaseInput } from '../release/types.ts';
import { buildRelease } from '../release/manifest.ts';
import { channelFilePath, manifestUrl } from '../release/naming.ts';
import { stageArchives, writeChannel, writeManifest } from '../release/site.ts';
import { parseReleaseChannel } from '../release/channel.ts';
import { getText } from '../store/store.ts';
import type { Stores } from '../store/open.ts';
import type { Lease } from './lease.ts';
import { verifyRelease, type VerifyReport } from '../release/verify.ts';
import { announceRelease } from './announcer.ts';
import type { PublishedImage } from './images.ts';
import type { Journal } from './journal.ts';
import type { ClientFactory } from './clients.ts';
import type { Emit } from './events.ts';
import type { Stage } from './stages.ts';

export interface ReleaseOutcome {
  name: string;
  release: Release;
  manifestPath: string;
  manifestUrl: string;
  written: boolean;
  verify?: VerifyReport;
  announcement?: { messageId: string; skipped: boolean; via: string };
}

export interface ReleaseStageInput {
  config: Config;
  catalog: Catalog;
  plan: Plan;
  images: PublishedImage[];
  artifacts: FetchedArtifact[];
  journal: Journal;
  clients: ClientFactory;
  emit: Emit;
  until: Stage;
  stores: Stores;
  lease: Lease;
  /** moves every image's floating tags (after verify, before the announcement) */
  moveFloatingTags: () => Promise<void>;
}

export async function releaseStage(s: ReleaseStageInput): Promise<ReleaseOutcome> {
  const { config, plan, emit } = s;
  emit({ type: 'stage', stage: 'release', state: 'started' });
  const input = releaseInput(s);
  const { site } = s.stores;
  await stageArchives(site, input);
  const written = await writeManifest(site, buildRelease(input));
  await s.journal.update((d) => { d.manifest = { path: written.path, digest: '' }; });
  const outcome: ReleaseOutcome = { name: plan.release, release: written.release, manifestPath: written.path,
    manifestUrl: manifestUrl(config.site.baseUrl, plan.channel, plan.number), written: written.written };
  emit({ type: 'stage', stage: 'release', state: 'finished', detail: `${written.path}${written.written ? '' : ' (already written, unchanged)'}` });
  if (s.until === 'release') return outcome;

  emit({ type: 'stage', stage: 'verify', state: 'started' });
  outcome.verify = await verifyRelease(written.release, { client: s.clients, site, siteBaseUrl: config.site.baseUrl, published: true,
    ...(config.site.verifyUrl ? { publicUrl: config.site.verifyUrl } : {}) });
  if (outcome.verify.problems.length > 0) throw verifyError(outcome.verify);
  await s.journal.update((d) => { d.verified = true; });
  emit({ type: 'stage', stage: 'verify', state: 'finished', detail: `${outcome.verify.images} images, ${outcome.verify.manifests} manifests, ${outcome.verify.blobs} blobs, ${outcome.verify.archives} archives${config.site.verifyUrl ? `, read back from ${config.site.verifyUrl}` : ''}` });
  if (s.until === 'verify') return outcome;

  emit({ type: 'stage', stage: 'pointers', state: 'started' });
  s.lease.assertHeld();
  await writeChannel(site, { channel: plan.channel, latestRelease: plan.number, active: true,
    ...(config.announce.topicArn ? { snsTopicArn: config.announce.topicArn } : {}) });
  await assertChannelPoints(s.stores, plan.channel, plan.number);
  await s.moveFloatingTags();
  emit({ type: 'stage', stage: 'pointers', state: 'finished', detail: `releasechannels/${plan.channel}.yaml and the floating tags point at ${plan.release}` });

  emit({ type: 'stage', stage: 'announce', state: 'started' });
  const reasons = Object.fromEntries(s.images.filter((i) => i.changed).map((i) => [`${i.plan.name}-image`, i.changed!]));
  const sent = await announceRelease(config, s.stores, s.lease, written.release, { reasons });
  await s.journal.update((d) => { d.announced = { messageId: sent.messageId, at: new Date().toISOString() }; });
  outcome.announcement = { messageId: sent.messageId, skipped: sent.skipped, via: sent.via };
  emit({ type: 'stage', stage: 'announce', state: 'finished', detail: `${sent.skipped ? 'already announced' : 'sent'} via ${sent.via} (${sent.messageId})` });
  return outcome;
}

/** The channel file as the site serves it now points at this release (or a later one). */
async function assertChannelPoints(stores: Stores, channel: string, number: number): Promise<void> {
  const key = channelFilePath(channel);
  const text = await getText(stores.site, key);
  const latest = text === undefined ? undefined : parseReleaseChannel(text, stores.site.where(key)).status.latestRelease;
  if (latest === undefined || latest < number) {
    throw new EksdError('VERIFY_FAILED', `${stores.site.where(key)} points at release ${latest ?? '(none)'}, not ${number}, after it was written; nothing was announced`, {
      where: stores.site.where(key), hint: 'check the bucket for another writer of this channel, then run again',
    });
  }
}

export function verifyError(report: VerifyReport): EksdError {
  const lines = report.problems.map((p) => `${p.component}/${p.asset}: ${p.problem}`);
  return new EksdError('VERIFY_FAILED', `${report.release} failed verification with ${lines.length} problem(s); it was not announced:\n  ${lines.join('\n  ')}`, {
    where: report.release, hint: 'republish the missing pieces (eksd republish) or re-run the release; nothing is announced until verify passes',
  });
}

function releaseInput(s: ReleaseStageInput): ReleaseInput {
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
  const commit = process.env.EKSD_BUILD_REPO_COMMIT ?? process.env.CODEBUILD_RESOLVED_SOURCE_VERSION ?? process.env.GITHUB_SHA;
  return { channel: s.plan.channel, number: s.plan.number, date: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    siteBaseUrl: s.config.site.baseUrl, ...(commit ? { buildRepoCommit: commit } : {}),
    ...(s.config.announce.topicArn ? { snsTopicArn: s.config.announce.topicArn } : {}), components };
}
