/**
 * What the attestations of one platform image say, gathered from the release's own data: the plan entry,
 * the catalog's artifacts staged into it (with both checksums), the parent by digest (the build inputs),
 * the build path and key, and the files each layer it adds over its parent holds (read from the
 * registry once per layer digest and kept in the cache folder: a base update lists nothing again).
 */
import { join } from 'node:path';
import type { Catalog } from '../../catalog/model.ts';
import { UPSTREAM } from '../../catalog/model.ts';
import type { Platform } from '../../config/config.ts';
import type { ImagePlan, Plan } from '../../plan/plan.ts';
import type { ClientFactory, RegistryClient } from '../../registry/client.ts';
import { archiveUri } from '../../release/naming.ts';
import { layerFiles, type LayerFile } from '../../attest/layer-files.ts';
import type { SbomInput } from '../../attest/sbom.ts';
import type { ProvenanceInput } from '../../attest/provenance.ts';
import type { PlatformRecord } from '../images/types.ts';
import { makeDir, readJson, writeFileAtomic } from '../../util/fs-atomic.ts';
import { Memo } from '../../util/memo.ts';

export interface ReleaseFacts {
  plan: Plan;
  catalog: Catalog;
  clients: ClientFactory;
  siteBaseUrl: string;
  source: ProvenanceInput['source'];
  catalogDigest: string;
  planId?: string;
  cacheDir: string;
}

export interface PlatformDocumentsInput { sbom: SbomInput; provenance: Omit<ProvenanceInput, 'run'> }

export async function platformFacts(r: ReleaseFacts, image: ImagePlan, platform: Platform, record: PlatformRecord): Promise<PlatformDocumentsInput> {
  const subject = { name: `${image.registry}/${image.repository}`, digest: record.manifest.digest };
  const parent = parentOf(r.plan, image, record);
  const artifacts = stagedArtifacts(r, image, platform);
  const layers = await addedLayers(r, image, record, parent);
  return {
    sbom: { image: image.name, repository: subject.name, digest: subject.digest, platform, version: image.gitTag,
      ...(parent ? { parent: { reference: parent.uri, digest: parent.digest } } : {}),
      artifacts: artifacts.map((a) => ({ name: a.name, version: a.version, uri: a.uri, sha256: a.sha256, sha512: a.sha512 })), layers },
    provenance: { subject, channel: r.plan.channel, release: r.plan.number, ...(r.planId ? { planId: r.planId } : {}), platform, source: r.source,
      catalog: { uri: 'images/', digest: r.catalogDigest }, build: { path: record.inputs.via ?? 'buildkit', key: record.key },
      ...(parent ? { parent } : {}), artifacts: artifacts.map((a) => ({ name: a.path, uri: a.uri, sha256: a.sha256, sha512: a.sha512 })) },
  };
}

interface Parent { uri: string; digest: string; registry: string; repository: string }

function parentOf(plan: Plan, image: ImagePlan, record: PlatformRecord): Parent | undefined {
  if (!record.inputs.from) return undefined;
  const p = image.from === UPSTREAM ? { registry: plan.upstream.registry, repository: plan.upstream.repository }
    : plan.images.find((i) => i.name === image.from);
  if (!p) return undefined;
  return { uri: `${p.registry}/${p.repository}`, digest: record.inputs.from, registry: p.registry, repository: p.repository };
}

/** The catalog's artifacts staged into this image for this platform (as build contexts stage them). */
function stagedArtifacts(r: ReleaseFacts, image: ImagePlan, platform: Platform) {
  const spec = r.catalog.images.find((i) => i.name === image.name);
  if (!spec) return [];
  return r.catalog.components.flatMap((c) => c.artifacts)
    .filter((a) => a.component === spec.component && a.platform === platform && a.stage !== undefined && spec.stages.includes(a.stage))
    .map((a) => ({ name: a.name, path: `${a.project}/${a.gitTag}/${a.name}`, version: a.gitTag, sha256: a.sha256, sha512: a.sha512,
      uri: archiveUri(r.siteBaseUrl, r.plan.channel, r.plan.number, a.project, a.gitTag, a.name) }));
}

interface ManifestJson { layers?: Array<{ digest: string; mediaType: string }> }

/** The layers the image adds over its parent (all of them when they do not start with the parent's), with their files. */
async function addedLayers(r: ReleaseFacts, image: ImagePlan, record: PlatformRecord, parent: Parent | undefined): Promise<SbomInput['layers']> {
  const client = r.clients(image.registry);
  const own = ((await client.getManifest(image.repository, record.manifest.digest)).json as ManifestJson).layers ?? [];
  const inherited = parent ? (await parentLayers(r.clients(parent.registry), parent)) : [];
  const starts = inherited.every((l, i) => own[i]?.digest === l.digest);
  const added = starts ? own.slice(inherited.length) : own;
  return Promise.all(added.map(async (l) => ({ digest: l.digest, files: await cachedFiles(r.cacheDir, l.digest, async () =>
    layerFiles(await client.getBlobStream(image.repository, l.digest), l.mediaType)) })));
}

/** A parent's layers, read once per process: many images share a parent. */
const parents = new Memo<Array<{ digest: string; mediaType: string }>>();

function parentLayers(client: RegistryClient, parent: Parent): Promise<Array<{ digest: string; mediaType: string }>> {
  return parents.get(`${parent.registry}/${parent.repository}@${parent.digest}`,
    async () => ((await client.getManifest(parent.repository, parent.digest)).json as ManifestJson).layers ?? []);
}

async function cachedFiles(cacheDir: string, digest: string, list: () => Promise<LayerFile[]>): Promise<LayerFile[]> {
  const file = join(cacheDir, 'layer-files', `${digest.replace(':', '-')}.json`);
  const cached = await readJson<LayerFile[]>(file).catch(() => undefined);
  if (cached) return cached;
  const files = await list();
  await makeDir(join(cacheDir, 'layer-files'));
  await writeFileAtomic(file, JSON.stringify(files));
  return files;
}
