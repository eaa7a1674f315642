/**
 * Republish an existing release from its manifest, never rebuilding and never changing a digest:
 *
 *   locate   for every Image asset, find its index (imageDigest) and each child manifest in one of the
 *            places it may live: the manifest's own registry/repository, the target, --from locations,
 *            the configured imageRepo, and mirror copies of this release recorded under <site>/mirrors/.
 *            Nothing is written until every digest is found; a missing one fails the run naming it.
 *   copy     children first, then the index, byte for byte (copy() keeps digests; what the target has
 *            is skipped), to the configured imageRepo or --to.
 *   tags     the versioned tag is restored to the recorded digest. The floating `-latest` tag is pointed
 *            at this release only when no newer release of the channel carries the same floating tag
 *            with another digest: republishing release 4 after release 5 must not move users of
 *            `-latest` back to 4 (release 5's republish restores it). When newer releases cannot be read,
 *            an existing floating tag is left alone and a missing one is not created.
 *   mirror   when the target is not where the manifest points, a copy of the manifest whose image URIs
 *            point at the target is written (<site>/mirrors/<target>/<release>.yaml or --output) and it
 *            is that copy which is verified.
 *   verify   the release (or its mirror copy) against the target registry and the site.
 *   announce only when asked, only in place, only after verify: rendered as a republish and sent again
 *            on purpose (a deliberate resend in the announcement ledger).
 *
 * Base images are not listed in a Release manifest, so they are not republished; the manifest's images
 * are self-contained indexes (their layers include the base layers).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/config.ts';
import { EksdError, isEksdError } from '../errors.ts';
import { copy, emptyCopyStats, type CopyStats } from '../registry/copy.ts';
import type { Manifest } from '../registry/manifests.ts';
import { parseTagReference, validateRegistry, validateRepository } from '../registry/reference.ts';
import type { RegistryClient } from '../registry/client.ts';
import { parseReleaseChannel } from '../release/channel.ts';
import { fetchText } from '../release/fetch.ts';
import { readIfExists, writeFileAtomic } from '../util/fs-atomic.ts';
import { openStores, type Stores } from '../store/open.ts';
import { getText } from '../store/store.ts';
import { parseRelease, renderRelease } from '../release/manifest.ts';
import { channelFilePath, releaseName } from '../release/naming.ts';
import { latestNumber, readRelease } from '../release/site.ts';
import type { Release } from '../release/types.ts';
import { verifyRelease, type VerifyReport } from '../release/verify.ts';
import { ECR_PUBLIC_REGISTRY, ecrPublicHost } from '../aws/constants.ts';
import { limiter } from '../util/limit.ts';
import { announceRelease } from './announcer.ts';
import { registryClients, type ClientFactory } from './clients.ts';
import { Journal } from './journal.ts';
import { acquireLease } from './lease.ts';
import { floatingFor } from '../plan/tags.ts';
import { publishLimits, transferPolicy } from '../publish/limits.ts';

/** A registry plus a namespace inside it: `127.0.0.1:5000/eks-distro`, `public.ecr.aws/eks-distro`. */
export interface Location { registry: string; namespace: string }

export interface RepublishOptions {
  config: Config;
  release: Release;
  /** Where to copy to (default: the configured imageRepo). */
  to?: Location;
  /** More places to look for the digests (e.g. a mirror that still has them). */
  from?: Location[];
  /** Path of the mirror manifest (default `<site>/mirrors/<target>/<release>.yaml`). */
  output?: string;
  announce?: boolean;
  clients?: ClientFactory;
  /** Progress, one line per step. */
  log?: (line: string) => void;
  /** Verify: tries for a tag that does not resolve yet (default 5). */
  verifyAttempts?: number;
  /** Images copied at once (default 4). */
  concurrency?: number;
}

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
  tags: RepublishedTag[];
}

export interface RepublishResult {
  release: string;
  target: string;
  /** true when the target is not where the manifest points (a mirror manifest was written) */
  mirror: boolean;
  mirrorManifest?: string;
  images: RepublishedImage[];
  verify: VerifyReport;
  announcement?: { skipped: boolean; messageId: string; resend: number; via: string };
  ms: number;
}

interface ReleaseImage {
  component: string;
  asset: string;
  description: string;
  arch: string[];
  registry: string;
  repository: string;
  /** repository relative to the release's namespace, e.g. etcd-io/etcd */
  rel: string;
  tag: string;
  floating?: string;
  digest: string;
}

interface Place { kind: string; registry: string; repository: string }

interface Located {
  image: ReleaseImage;
  index: { place: Place; manifest: Manifest };
  children: Array<{ digest: string; place: Place }>;
}

// ---- locations ----

export function parseLocation(text: string, where: string): Location {
  const trimmed = text.trim().replace(/\/+$/, '');
  const [registry = '', ...rest] = trimmed.split('/');
  const namespace = rest.join('/');
  const problem = validateRegistry(registry) ?? (namespace ? validateRepository(namespace) : undefined);
  if (!trimmed || problem || /[@:]/.test(namespace)) {
    throw new EksdError('USAGE', `${where} must be <registry>[/<namespace>], not '${text}'${problem ? `: ${problem}` : ''}`, {
      where, hint: 'e.g. --to 127.0.0.1:5001/eks-distro or --to public.ecr.aws/my-alias',
    });
  }
  return { registry, namespace };
}

export function formatLocation(l: Location): string {
  return l.namespace ? `${l.registry}/${l.namespace}` : l.registry;
}

function repoIn(l: Location, rel: string): string {
  return l.namespace ? `${l.namespace}/${rel}` : rel;
}

/** A location as one folder name: `127.0.0.1:5001/eks-distro` -> `127.0.0.1_5001_eks-distro`. */
export function mirrorDirName(l: Location): string {
  return formatLocation(l).replace(/[^A-Za-z0-9._-]+/g, '_');
}

export function mirrorManifestPath(siteDir: string, l: Location, channel: string, number: number): string {
  return join(siteDir, 'mirrors', mirrorDirName(l), `${releaseName(channel, number)}.yaml`);
}

// ---- the release's images ----

/**
 * The namespace the release's repositories live under: a known location whose namespace prefixes every
 * repository of its registry (the configured imageRepo, --to, --from), else the folders all repositories
 * share (upstream manifests: `public.ecr.aws/eks-distro/<project>/<image>` -> `eks-distro`).
 */
function releaseNamespace(refs: Array<{ registry: string; repository: string }>, known: Location[]): string {
  for (const l of known) {
    if (l.namespace === '') continue; // a bare registry would claim every repository of its host
    if (refs.every((r) => r.registry === l.registry && r.repository.startsWith(`${l.namespace}/`))) return l.namespace;
  }
  const dirs = refs.map((r) => r.repository.split('/').slice(0, -1));
  const common: string[] = [];
  for (let i = 0; dirs.every((d) => i < d.length && d[i] === dirs[0]![i]); i++) common.push(dirs[0]![i]!);
  // Keep at least one folder of each repository below the namespace when the catalog has one
  // (`<project>/<image>`), so a lone image keeps its project folder.
  if (refs.length === 1 && common.length > 0) common.pop();
  return common.join('/');
}

function releaseImages(release: Release, known: Location[]): ReleaseImage[] {
  const { channel, number } = release.spec;
  const raw: Array<Omit<ReleaseImage, 'rel'>> = [];
  for (const component of release.status.components ?? []) {
    for (const asset of component.assets ?? []) {
      if (asset.type !== 'Image') continue;
      const where = `${release.metadata.name} ${component.name}/${asset.name}`;
      const ref = parseTagReference(asset.image?.uri ?? '');
      if (!ref) throw new EksdError('REPUBLISH_INPUT', `image uri '${asset.image?.uri ?? ''}' is not <registry>/<repository>:<tag>`, { where, hint: 'republish reads the tag-form URIs a Release manifest records' });
      const digest = asset.image?.imageDigest;
      if (!digest || !/^sha256:[a-f0-9]{64}$/.test(digest)) {
        throw new EksdError('REPUBLISH_INPUT', `image ${asset.image?.uri} has no imageDigest`, {
          where, hint: 'republish copies images by digest and never guesses one; releases without imageDigest cannot be republished',
        });
      }
      const floating = floatingFor(ref.tag, channel, number);
      raw.push({
        component: component.name, asset: asset.name, description: asset.description, arch: asset.arch ?? [],
        registry: ref.registry, repository: ref.repository, tag: ref.tag, digest,
        ...(floating ? { floating } : {}),
      });
    }
  }
  const namespace = releaseNamespace(raw, known);
  return raw.map((r) => ({ ...r, rel: namespace ? r.repository.slice(namespace.length + 1) : r.repository }));
}

// ---- locate ----

async function probe(client: RegistryClient, repository: string, digest: string): Promise<true | string> {
  try {
    const head = await client.headManifest(repository, digest);
    return head ? true : 'not there';
  } catch (e) {
    return isEksdError(e) ? e.message : (e as Error).message;
  }
}

/** Mirror copies of this release written by earlier republishes: a place per asset. */
async function knownMirrors(siteDir: string, name: string): Promise<Array<{ file: string; release: Release }>> {
  let dirs: string[];
  try { dirs = await readdir(join(siteDir, 'mirrors')); } catch { return []; }
  const found: Array<{ file: string; release: Release }> = [];
  for (const d of dirs.sort()) {
    const file = join(siteDir, 'mirrors', d, `${name}.yaml`);
    const text = await readIfExists(file);
    if (text === undefined) continue;
    try { found.push({ file, release: parseRelease(text, file) }); } catch { /* an unreadable copy is no source */ }
  }
  return found;
}

function placesFor(image: ReleaseImage, o: { target: Location; from: Location[]; configured: Location; mirrors: Array<{ file: string; release: Release }> }): Place[] {
  const places: Place[] = [
    { kind: 'release', registry: image.registry, repository: image.repository },
    { kind: 'target', registry: o.target.registry, repository: repoIn(o.target, image.rel) },
    ...o.from.map((l) => ({ kind: `--from ${formatLocation(l)}`, registry: l.registry, repository: repoIn(l, image.rel) })),
    { kind: 'configured imageRepo', registry: o.configured.registry, repository: repoIn(o.configured, image.rel) },
  ];
  for (const m of o.mirrors) {
    const asset = m.release.status.components.find((c) => c.name === image.component)?.assets.find((a) => a.name === image.asset);
    const ref = parseTagReference(asset?.image?.uri ?? '');
    if (ref && asset?.image?.imageDigest === image.digest) places.push({ kind: `mirror ${m.file}`, registry: ref.registry, repository: ref.repository });
  }
  const seen = new Set<string>();
  return places.filter((p) => { const k = `${p.registry}/${p.repository}`; if (seen.has(k)) return false; seen.add(k); return true; });
}

async function locate(image: ReleaseImage, places: Place[], clients: ClientFactory, missing: string[]): Promise<Located | undefined> {
  const tried: string[] = [];
  let index: Located['index'] | undefined;
  for (const place of places) {
    const r = await probe(clients(place.registry), place.repository, image.digest);
    if (r === true) {
      index = { place, manifest: await clients(place.registry).getManifest(place.repository, image.digest) };
      break;
    }
    tried.push(`${place.registry}/${place.repository} (${r})`);
  }
  if (!index) {
    missing.push(`${image.component}/${image.asset} ${image.digest}: not in ${tried.join(', ')}`);
    return undefined;
  }
  const children: Located['children'] = [];
  const list = (index.manifest.json as { manifests?: Array<{ digest: string }> }).manifests ?? [];
  const ordered = [index.place, ...places.filter((p) => p !== index!.place)];
  for (const child of list) {
    let place: Place | undefined;
    const childTried: string[] = [];
    for (const p of ordered) {
      const r = await probe(clients(p.registry), p.repository, child.digest);
      if (r === true) { place = p; break; }
      childTried.push(`${p.registry}/${p.repository} (${r})`);
    }
    if (place) children.push({ digest: child.digest, place });
    else missing.push(`${image.component}/${image.asset} child ${child.digest} of ${image.digest}: not in ${childTried.join(', ')}`);
  }
  return { image, index, children };
}

// ---- floating tags ----

type FloatingOwner = { kind: 'ours' } | { kind: 'newer'; release: string; digest: string } | { kind: 'unknown'; why: string };

/** Releases of the channel newer than `number`, newest first; undefined when they cannot be read. */
async function newerReleases(config: Config, stores: Stores, channel: string, number: number): Promise<Release[] | { unknown: string }> {
  const remote = config.profile === 'local' ? undefined : config.site.baseUrl;
  try {
    let latest = await latestNumber(stores.site, channel);
    const local = await getText(stores.site, channelFilePath(channel));
    const text = local ?? (remote ? await fetchText(`${remote.replace(/\/+$/, '')}/${channelFilePath(channel)}`) : undefined);
    if (text !== undefined) latest = Math.max(latest, parseReleaseChannel(text, channelFilePath(channel)).status.latestRelease ?? 0);
    const unfinished = await Journal.unfinished(stores.state, channel);
    if (unfinished && unfinished.data.number > number) return { unknown: `release ${unfinished.data.number} of channel ${channel} is unfinished` };
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

async function pointTag(client: RegistryClient, repository: string, tag: string, index: Manifest): Promise<RepublishedTag> {
  const head = await client.headManifest(repository, tag);
  if (head?.digest === index.digest) return { tag, action: 'unchanged' };
  await client.putManifest(repository, tag, new Uint8Array(index.bytes), index.mediaType);
  return head ? { tag, action: 'moved', was: head.digest } : { tag, action: 'created' };
}

async function floatingTag(client: RegistryClient, repository: string, tag: string, index: Manifest, owner: FloatingOwner): Promise<RepublishedTag> {
  if (owner.kind === 'ours') return pointTag(client, repository, tag, index);
  const head = await client.headManifest(repository, tag);
  if (head?.digest === index.digest) return { tag, action: 'unchanged' };
  const note = owner.kind === 'newer' ? `belongs to ${owner.release} (${owner.digest})` : `left alone: ${owner.why}`;
  return { tag, action: 'kept', ...(head ? { was: head.digest } : {}), note };
}

// ---- the run ----

export async function republish(o: RepublishOptions): Promise<RepublishResult> {
  const started = Date.now();
  const { config, release } = o;
  const log = o.log ?? (() => {});
  const name = release.metadata.name;
  const { channel, number } = release.spec;
  const configured = parseLocation(config.imageRepo, 'imageRepo');
  const target = o.to ?? configured;
  const from = o.from ?? [];
  const clients = o.clients ?? registryClients({ ...config, imageRepo: formatLocation(target) });

  const images = releaseImages(release, [configured, ...from, target]);
  if (images.length === 0) throw new EksdError('REPUBLISH_INPUT', `${name} lists no Image assets`, { where: name, hint: 'nothing to republish' });
  const mirror = images.some((i) => i.registry !== target.registry || i.repository !== repoIn(target, i.rel));
  if (mirror && o.announce) {
    throw new EksdError('USAGE', `--announce announces ${name} where its manifest points; ${formatLocation(target)} is a mirror copy`, {
      where: '--announce', hint: 'republish in place (without --to) to re-announce; mirrors are not announced',
    });
  }
  if (!mirror && o.output) {
    throw new EksdError('USAGE', `--output is for mirror manifests, and ${formatLocation(target)} is where ${name} already points`, {
      where: '--output', hint: 'give --to <registry/namespace> of a mirror, or drop --output',
    });
  }

  const stores = await openStores(config);
  const lease = await acquireLease(stores.state, channel, `eksd republish ${name} (pid ${process.pid})`, { ttlSeconds: config.leaseSeconds });
  try {
    // 1. locate every digest before writing anything
    log(`locate  ${images.length} images of ${name}`);
    const mirrors = await knownMirrors(config.site.dir, name);
    const missing: string[] = [];
    const located = (await Promise.all(images.map((image) =>
      locate(image, placesFor(image, { target, from, configured, mirrors }), clients, missing)))).filter((l): l is Located => l !== undefined);
    if (missing.length > 0) {
      throw new EksdError('REPUBLISH_SOURCE_MISSING', `${missing.length} digest(s) of ${name} are in none of the places searched; nothing was copied:\n  ${missing.sort().join('\n  ')}`, {
        where: name, hint: 'give --from <registry/namespace> of a mirror that still has them; republish never rebuilds, so a lost digest needs a new release (eksd release)',
      });
    }
    for (const l of located) log(`found   ${l.image.component}/${l.image.asset} ${l.image.digest} in ${l.index.place.registry}/${l.index.place.repository} (${l.index.place.kind})`);

    // 2. repositories (ECR Public needs them created before a push)
    if (config.aws.ecrPublic && target.registry === ecrPublicHost(config.aws)) await ensureEcrRepositories(config, target, images, log);

    // 3. copy children first, then the index; 4. tags
    const newer = await newerReleases(config, stores, channel, number);
    // The target's limits, as a release has them (ECR Public: no mounts, paced uploads), shared by every copy.
    const policy = transferPolicy(publishLimits(config, target.registry));
    const slot = limiter(o.concurrency ?? 4);
    const results = await Promise.all(located.map((l) => slot(async (): Promise<RepublishedImage> => {
      const { image } = l;
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
      const tags = [await pointTag(to.client, toRepo, image.tag, l.index.manifest)];
      if (image.floating) tags.push(await floatingTag(to.client, toRepo, image.floating, l.index.manifest, floatingOwner(image, newer)));
      log(`copied  ${image.component}/${image.asset} -> ${target.registry}/${toRepo}: ${stats.manifestsPushed} manifests pushed, ${stats.manifestsExisting} present, ${stats.blobsUploaded} blobs uploaded, ${stats.blobsMounted} mounted, ${stats.blobsExisting} present; ${tags.map((t) => `${t.tag} ${t.action}`).join(', ')}`);
      return {
        component: image.component, asset: image.asset, digest: image.digest,
        source: `${l.index.place.registry}/${l.index.place.repository}`, sourceKind: l.index.place.kind,
        target: `${target.registry}/${toRepo}:${image.tag}`, copied: stats, tags,
      };
    })));

    // 5. the manifest to verify: the release itself, or its mirror copy (written only once verified)
    const result: RepublishResult = { release: name, target: formatLocation(target), mirror, images: results, verify: emptyReport(name), ms: 0 };
    let toVerify = release;
    let mirrorText: string | undefined;
    let mirrorPath: string | undefined;
    if (mirror) {
      mirrorPath = o.output ?? mirrorManifestPath(config.site.dir, target, channel, number);
      mirrorText = renderRelease(mirrorCopy(release, images, target));
      toVerify = parseRelease(mirrorText, mirrorPath);
    }
    log(`verify  ${toVerify.metadata.name} against ${formatLocation(target)}`);
    result.verify = await verifyRelease(toVerify, { client: clients, site: stores.site, siteBaseUrl: config.site.baseUrl,
      ...(o.verifyAttempts ? { attempts: o.verifyAttempts } : {}) });
    if (result.verify.problems.length > 0) { result.ms = Date.now() - started; return result; }
    if (mirrorPath && mirrorText) {
      await writeFileAtomic(mirrorPath, mirrorText);
      result.mirrorManifest = mirrorPath;
      log(`wrote   ${mirrorPath}`);
    }

    // 6. announce (in place only, on request)
    if (o.announce) {
      result.announcement = await announceRelease(config, stores, lease, release, { republish: true, again: true });
      log(`announced ${name} via ${result.announcement.via} (message ${result.announcement.messageId})`);
    }
    result.ms = Date.now() - started;
    return result;
  } finally {
    await lease.release();
  }
}

function emptyReport(release: string): VerifyReport {
  return { release, images: 0, manifests: 0, blobs: 0, archives: 0, problems: [] };
}

/** The release with every image URI pointing at the target (same tag, same digest). */
function mirrorCopy(release: Release, images: ReleaseImage[], target: Location): Release {
  const copyOf = structuredClone(release);
  for (const component of copyOf.status.components) {
    for (const asset of component.assets) {
      const image = images.find((i) => i.component === component.name && i.asset === asset.name);
      if (image && asset.image) asset.image.uri = `${target.registry}/${repoIn(target, image.rel)}:${image.tag}`;
    }
  }
  return copyOf;
}

async function ensureEcrRepositories(config: Config, target: Location, images: ReleaseImage[], log: (l: string) => void): Promise<void> {
  // public.ecr.aws/<alias>/<repositoryName>: the first namespace folder is the registry alias.
  const [, ...below] = target.namespace.split('/');
  if (!target.namespace) {
    throw new EksdError('USAGE', `--to ${ECR_PUBLIC_REGISTRY} needs the registry alias`, { where: '--to', hint: `e.g. --to ${ECR_PUBLIC_REGISTRY}/my-alias` });
  }
  const { ensureRepositories } = await import('../publish/repositories.ts');
  await ensureRepositories(config, images.map((image) => ({ name: [...below, image.rel].join('/'), description: image.description, arches: image.arch })), log);
}
