/**
 * Copy a located release to the target and restore its tags. Children first, then the index, byte for
 * byte (what the target has is skipped), under the target's publish limits. The versioned tag is
 * restored to the recorded digest. The floating `-latest` tag is pointed at this release only when no
 * newer release of the channel carries the same floating tag with another digest: republishing release
 * 4 after release 5 must not move users of `-latest` back to 4. When newer releases cannot be read, an
 * existing floating tag is left alone and a missing one is not created.
 */
import type { Config } from '../../config/config.ts';
import { EksdError, isEksdError } from '../../errors.ts';
import { copy, emptyCopyStats, type CopyStats, type TransferPolicy } from '../../registry/copy.ts';
import type { RegistryClient, ClientFactory } from '../../registry/client.ts';
import { parseTagReference } from '../../registry/reference.ts';
import { copyReferrers } from '../../registry/referrers.ts';
import { moveTags, tagsNow, type TagTarget } from '../../publish/tags.ts';
import { parseReleaseChannel } from '../../release/channel.ts';
import { fetchText } from '../../site/fetch.ts';
import { channelFilePath, releaseName } from '../../release/naming.ts';
import { latestNumber, readRelease } from '../../site/site.ts';
import type { Release } from '../../release/types.ts';
import { getText } from '../../store/store.ts';
import type { Stores } from '../../store/open.ts';
import { floatingFor } from '../../plan/tags.ts';
import { limiter } from '../../util/limit.ts';
import { repoIn, type Located, type Location, type ReleaseImage } from './locate.ts';

export type TagAction = 'created' | 'unchanged' | 'moved' | 'kept';

export interface RepublishedTag { tag: string; action: TagAction; was?: string; note?: string }

export interface RepublishedImage {
  component: string;
  asset: string;
  digest: string;
  /** registry/repository the index was read from, and what kind of place that is */
  source: string;
  sourceKind: string;
  /** registry/repository:tag written to */
  target: string;
  copied: CopyStats;
  /** Referrers (signatures, SBOMs, provenance) attached at the target by this copy. */
  attached: number;
  tags: RepublishedTag[];
}

export interface CopyInput {
  located: Located[];
  target: Location;
  clients: ClientFactory;
  policy: TransferPolicy;
  /** Newer releases of the channel (whose floating tags this republish must not take), or why they cannot be read. */
  newer: Release[] | { unknown: string };
  concurrency: number;
  log: (line: string) => void;
}

export function copyImages(input: CopyInput): Promise<RepublishedImage[]> {
  const slot = limiter(input.concurrency);
  return Promise.all(input.located.map((l) => slot(() => copyImage(input, l))));
}

async function copyImage(input: CopyInput, l: Located): Promise<RepublishedImage> {
  const { image } = l;
  const { target, clients, policy } = input;
  const toRepo = repoIn(target, image.rel);
  const to = { client: clients(target.registry), repo: toRepo };
  const stats = emptyCopyStats();
  for (const child of l.children) {
    await copy({ from: { client: clients(child.place.registry), repo: child.place.repository, ref: child.digest }, to, stats, policy });
  }
  const digest = await copy({ from: { client: clients(l.index.place.registry), repo: l.index.place.repository, ref: image.digest }, to, stats, policy });
  if (digest !== image.digest) {
    throw new EksdError('REPUBLISH_DIGEST', `copied ${image.component}/${image.asset} as ${digest}, the release records ${image.digest}`, {
      where: `${target.registry}/${toRepo}`, hint: 'this is a bug: republish must keep digests; nothing was tagged',
    });
  }
  // Signatures, SBOMs and provenance go with the images, attached by digest before any tag names them.
  const subjects = [{ place: l.index.place, digest: image.digest }, ...l.children.map((c) => ({ place: c.place, digest: c.digest }))];
  const attached = (await Promise.all(subjects.map((s) => copyReferrers({ client: clients(s.place.registry), repo: s.place.repository }, to, s.digest))))
    .reduce((a, b) => a + b, 0);
  const tags = await restoreTags(to.client, toRepo, l, floatingOwner(image, input.newer));
  input.log(`copied  ${image.component}/${image.asset} -> ${target.registry}/${toRepo}: ${stats.manifestsPushed} manifests pushed, ${stats.manifestsExisting} present, ${stats.blobsUploaded} blobs uploaded, ${stats.blobsMounted} mounted, ${stats.blobsExisting} present, ${attached} attestations attached; ${tags.map((t) => `${t.tag} ${t.action}`).join(', ')}`);
  return {
    component: image.component, asset: image.asset, digest: image.digest,
    source: `${l.index.place.registry}/${l.index.place.repository}`, sourceKind: l.index.place.kind,
    target: `${target.registry}/${toRepo}:${image.tag}`, copied: stats, attached, tags,
  };
}

/** The versioned tag, and the floating one when this release owns it, moved with the one tags module. */
async function restoreTags(client: RegistryClient, repository: string, l: Located, owner: FloatingOwner): Promise<RepublishedTag[]> {
  const { image, index } = l;
  const ours = owner.kind === 'ours' && image.floating ? [image.floating] : [];
  const t: TagTarget = { client, repository, index: { digest: index.manifest.digest, bytes: Buffer.from(index.manifest.bytes), mediaType: index.manifest.mediaType },
    tags: { versioned: image.tag, floating: ours } };
  const [now] = await tagsNow([{ ...t, tags: { versioned: image.tag, floating: image.floating ? [image.floating] : [] } }], 'all');
  const moved = [...await moveTags(t, now!, 'versioned'), ...await moveTags(t, now!, 'floating')];
  const tags: RepublishedTag[] = moved.map((m) => ({ tag: m.tag, action: m.action, ...(m.action === 'moved' ? { was: now![m.tag]! } : {}) }));
  if (image.floating && owner.kind !== 'ours') {
    const was = now![image.floating];
    const note = owner.kind === 'newer' ? `belongs to ${owner.release} (${owner.digest})` : `left alone: ${owner.why}`;
    tags.push(was === index.manifest.digest ? { tag: image.floating, action: 'unchanged' } : { tag: image.floating, action: 'kept', ...(was ? { was } : {}), note });
  }
  return tags;
}

type FloatingOwner = { kind: 'ours' } | { kind: 'newer'; release: string; digest: string } | { kind: 'unknown'; why: string };

/** Releases of the channel newer than `number`, newest first (`unfinished`: the number of the channel's unfinished run); why not, when they cannot be read. */
export async function newerReleases(config: Config, stores: Stores, channel: string, number: number, unfinished: number | undefined): Promise<Release[] | { unknown: string }> {
  const remote = config.profile === 'local' ? undefined : config.site.baseUrl;
  try {
    let latest = await latestNumber(stores.site, channel);
    const local = await getText(stores.site, channelFilePath(channel));
    const text = local ?? (remote ? await fetchText(`${remote.replace(/\/+$/, '')}/${channelFilePath(channel)}`) : undefined);
    if (text !== undefined) latest = Math.max(latest, parseReleaseChannel(text, channelFilePath(channel)).status.latestRelease ?? 0);
    if (unfinished !== undefined && unfinished > number) return { unknown: `release ${unfinished} of channel ${channel} is unfinished` };
    const newer: Release[] = [];
    for (let n = latest; n > number; n--) {
      try {
        newer.push(await readRelease(releaseName(channel, n), { site: stores.site, ...(remote ? { siteBaseUrl: remote } : {}) }));
      } catch (e) {
        if (!isEksdError(e, 'RELEASE_NOT_FOUND')) throw e;
      }
    }
    return newer;
  } catch (e) {
    return { unknown: `newer releases cannot be read: ${(e as Error).message}` };
  }
}

function floatingOwner(image: ReleaseImage, newer: Release[] | { unknown: string }): FloatingOwner {
  if (!Array.isArray(newer)) return { kind: 'unknown', why: newer.unknown };
  for (const r of newer) {
    const asset = r.status.components.find((c) => c.name === image.component)?.assets.find((a) => a.name === image.asset && a.type === 'Image');
    const ref = parseTagReference(asset?.image?.uri ?? '');
    if (!ref || !asset?.image?.imageDigest || floatingFor(ref.tag, r.spec.channel, r.spec.number) !== image.floating) continue;
    return asset.image.imageDigest === image.digest ? { kind: 'ours' } : { kind: 'newer', release: r.metadata.name, digest: asset.image.imageDigest };
  }
  return { kind: 'ours' };
}

