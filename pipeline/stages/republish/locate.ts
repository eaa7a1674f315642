/**
 * Locate every digest of a published release before anything is written: for every Image asset, its
 * index (imageDigest) and each child manifest, in one of the places it may live: the manifest's own
 * registry/repository, the target, --from locations, the configured imageRepo, and mirror copies of this
 * release recorded under <site>/mirrors/. A missing one fails the run naming it.
 */
import { EksdError, isEksdError } from '../../errors.ts';
import type { Manifest } from '../../registry/manifests.ts';
import { parseTagReference, validateRegistry, validateRepository } from '../../registry/reference.ts';
import type { RegistryClient, ClientFactory } from '../../registry/client.ts';
import { getText, type Store } from '../../store/store.ts';
import { parseRelease } from '../../release/manifest.ts';
import { releaseName } from '../../release/naming.ts';
import type { Release } from '../../release/types.ts';
import { floatingFor } from '../../plan/tags.ts';


/** A registry plus a namespace inside it: `127.0.0.1:5000/eks-distro`, `public.ecr.aws/eks-distro`. */
export interface Location { registry: string; namespace: string }

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

export function repoIn(l: Location, rel: string): string {
  return l.namespace ? `${l.namespace}/${rel}` : rel;
}

/** A location as one folder name: `127.0.0.1:5001/eks-distro` -> `127.0.0.1_5001_eks-distro`. */
export function mirrorDirName(l: Location): string {
  return formatLocation(l).replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** The site key of a release's mirror copy for a location: `mirrors/<location>/<release>.yaml`. */
export function mirrorManifestKey(l: Location, channel: string, number: number): string {
  return `${MIRRORS}${mirrorDirName(l)}/${releaseName(channel, number)}.yaml`;
}

const MIRRORS = 'mirrors/';

export interface ReleaseImage {
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

export interface Place { kind: string; registry: string; repository: string }

export interface Located {
  image: ReleaseImage;
  index: { place: Place; manifest: Manifest };
  children: Array<{ digest: string; place: Place }>;
}

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

export function releaseImages(release: Release, known: Location[]): ReleaseImage[] {
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


export interface LocateInput {
  name: string;
  images: ReleaseImage[];
  target: Location;
  from: Location[];
  configured: Location;
  /** The site store, where earlier republishes recorded their mirror copies. */
  site: Store;
  clients: ClientFactory;
}

export async function locateAll(input: LocateInput): Promise<Located[]> {
  const mirrors = await knownMirrors(input.site, input.name);
  const missing: string[] = [];
  const located = (await Promise.all(input.images.map((image) =>
    locate(image, placesFor(image, { ...input, mirrors }), input.clients, missing)))).filter((l): l is Located => l !== undefined);
  if (missing.length > 0) {
    throw new EksdError('REPUBLISH_SOURCE_MISSING', `${missing.length} digest(s) of ${input.name} are in none of the places searched; nothing was copied:\n  ${missing.sort().join('\n  ')}`, {
      where: input.name, hint: 'give --from <registry/namespace> of a mirror that still has them; republish never rebuilds, so a lost digest needs a new release (eksd release)',
    });
  }
  return located;
}

async function probe(client: RegistryClient, repository: string, digest: string): Promise<true | string> {
  try {
    const head = await client.headManifest(repository, digest);
    return head ? true : 'not there';
  } catch (e) {
    return isEksdError(e) ? e.message : (e as Error).message;
  }
}

/** Mirror copies of this release written by earlier republishes: a place per asset. */
async function knownMirrors(site: Store, name: string): Promise<Array<{ file: string; release: Release }>> {
  const found: Array<{ file: string; release: Release }> = [];
  for (const d of await site.folders(MIRRORS)) {
    const key = `${MIRRORS}${d}/${name}.yaml`;
    const text = await getText(site, key);
    if (text === undefined) continue;
    const file = site.where(key);
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

