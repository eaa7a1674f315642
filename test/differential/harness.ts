/**
 * Builds one differential case both ways and compares everything: BuildKit on the real engine (the
 * production adapter, BuildKitBuilder + exportImage) and the assembler (qualify + assemble, as a release
 * runs them). The parent is pushed to the local registry as a real image; BuildKit pulls it from there.
 *
 * Compared: the whole config (every field, `created` and each history entry's `created` set aside: BuildKit
 * 0.8 stamps the build's time there), the new layers' count and, entry by entry, every tar header field
 * (mtime set aside) with the PAX records and content hashes. A build that fails one way and not the other
 * is a difference; a recipe the qualifier refuses goes to BuildKit in a release and is counted as refused.
 */
import type Docker from 'dockerode';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { assemble, type AssembleParent } from '../../pipeline/builders/assembler/assemble.ts';
import { readParentFs } from '../../pipeline/builders/assembler/parent-fs.ts';
import { qualify } from '../../pipeline/builders/assembler/qualify.ts';
import type { ParentConfig } from '../../pipeline/builders/assembler/recipe.ts';
import type { BuildKitBuilder } from '../../pipeline/builders/buildkit/builder.ts';
import { contextTar } from '../../pipeline/builders/buildkit/context.ts';
import type { ContextFile } from '../../pipeline/image/context.ts';
import { exportImage } from '../../pipeline/builders/buildkit/export.ts';
import type { Image as ExportedImage } from '../../pipeline/image/image.ts';
import { indexBytes } from '../../pipeline/image/index.ts';
import { pushIndex } from '../../pipeline/publish/index.ts';
import { pushPlatformImage } from '../../pipeline/publish/platform-image.ts';
import type { RegistryClient } from '../../pipeline/registry/client.ts';
import { MEDIA, type Descriptor } from '../../pipeline/image/media-types.ts';
import type { Case, FsEntry, ParentSpec } from './case.ts';
import { readLayer, type RawEntry } from './layers.ts';

export interface Harness {
  docker: Docker;
  client: RegistryClient;
  builder: BuildKitBuilder;
  /** A scratch directory for contexts, layers and caches. */
  work: string;
  /** Registry namespace for the parents. */
  ns: string;
}

type Json = Record<string, unknown>;

export type Outcome =
  | { kind: 'image'; config: Json; layers: RawEntry[][] }
  | { kind: 'failed'; message: string }
  | { kind: 'refused'; reason: string };

export interface CaseResult { assembled: Outcome; buildkit: Outcome; differences: string[] }

export const EPOCH = 1_704_067_200;

interface PushedParent extends AssembleParent { repository: string; index: string; diffIds: string[] }

export async function runCase(h: Harness, c: Case): Promise<CaseResult> {
  const files = await writeContext(h, c);
  const parent = c.parent ? await pushParent(h, c.parent, c.platform) : undefined;
  const [assembled, buildkit] = await Promise.all([assembledOutcome(h, c, files, parent), buildKitOutcome(h, c, files, parent)]);
  return { assembled, buildkit, differences: differences(assembled, buildkit) };
}

const DOCKERFILE = 'Dockerfile';

/** The context on disk, listed as contextFiles lists a recipe folder (the Dockerfile in it), with its own modes and owners. */
async function writeContext(h: Harness, c: Case): Promise<ContextFile[]> {
  const dir = join(h.work, 'contexts', randomBytes(6).toString('hex'));
  const entries: FsEntry[] = [...c.context, { path: DOCKERFILE, type: 'file', mode: 0o644, uid: 0, gid: 0, content: c.dockerfile }];
  const out: ContextFile[] = [];
  for (const e of entries) {
    const source = join(dir, 'f', String(out.length));
    if (e.type === 'file') { await mkdir(join(dir, 'f'), { recursive: true }); await writeFile(source, e.content ?? ''); }
    const sha256 = e.type === 'file' ? createHash('sha256').update(e.content ?? '').digest('hex') : '';
    out.push({ name: e.path, source: e.type === 'file' ? source : '', mode: e.mode, sha256, origin: 'recipe', uid: e.uid, gid: e.gid, ...(e.type === 'dir' ? { type: 'dir' as const } : {}) });
  }
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
}

/** The parent as a one-layer image in the local registry, with an index naming its platform. */
async function pushParent(h: Harness, spec: ParentSpec, platform: string): Promise<PushedParent> {
  const layer = await parentLayer(h, spec.entries);
  const [os, architecture] = platform.split('/');
  const config = Buffer.from(JSON.stringify({ architecture, os, config: spec.config, created: '2024-01-01T00:00:00Z',
    rootfs: { type: 'layers', diff_ids: [layer.diffId] }, history: [{ created: '2024-01-01T00:00:00Z', created_by: 'parent files' }] }));
  const repository = `${h.ns}/parent`;
  const layers: Descriptor[] = [{ mediaType: layer.blob.mediaType, digest: layer.blob.digest, size: layer.blob.size }];
  const image: ExportedImage = { config, configDigest: `sha256:${createHash('sha256').update(config).digest('hex')}`, layers: [layer.blob], inherited: 0 };
  const { descriptor } = await pushPlatformImage(h.client, repository, image, {}, undefined);
  const index = await pushIndex(h.client, repository, indexBytes([{ platform, manifest: descriptor }], {}));
  const fs = await readParentFs([async () => createReadStream(layer.blob.path!)]);
  return { repository, index: index.digest, config, layers, fs, diffIds: [layer.diffId] };
}

async function parentLayer(h: Harness, entries: FsEntry[]): Promise<{ blob: Descriptor & { path: string }; diffId: string }> {
  const tar = pack();
  const diff = createHash('sha256');
  const path = join(h.work, `parent-${randomBytes(6).toString('hex')}.tar.gz`);
  const writing = pipeline(tar.on('data', (c: unknown) => { diff.update(c as Buffer); }), createGzip(), createWriteStream(path));
  for (const e of entries) {
    const header = { name: e.type === 'dir' ? `${e.path}/` : e.path, mode: e.mode, uid: e.uid, gid: e.gid, mtime: new Date(EPOCH * 1000),
      type: e.type === 'dir' ? 'directory' as const : e.type === 'symlink' ? 'symlink' as const : 'file' as const, ...(e.link ? { linkname: e.link } : {}) };
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.type === 'file') tar.entry(header, e.content ?? '', done); else tar.entry(header, done);
    });
  }
  tar.finalize();
  await writing;
  const bytes = await import('node:fs/promises').then((f) => f.readFile(path));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  return { blob: { mediaType: MEDIA.ociLayerGzip, digest, size: bytes.length, path }, diffId: `sha256:${diff.digest('hex')}` };
}

async function assembledOutcome(h: Harness, c: Case, files: ContextFile[], parent: PushedParent | undefined): Promise<Outcome> {
  const parentConfig = parent ? (JSON.parse(parent.config.toString('utf8')) as { config: ParentConfig }).config : undefined;
  const q = qualify({ dockerfile: c.dockerfile, file: DOCKERFILE, platform: c.platform, buildArgs: { BASE_IMAGE: 'parent', ...c.buildArgs },
    ...(parentConfig ? { parent: parentConfig } : {}) });
  if (!q.assemble) return { kind: 'refused', reason: q.reason };
  try {
    const image = await assemble({ recipe: q.recipe, context: files, parent, sourceDateEpoch: EPOCH, cacheDir: join(h.work, 'assembled') });
    return await outcomeOf(image, parent?.layers.length ?? 0);
  } catch (e) {
    return { kind: 'failed', message: (e as Error).message };
  }
}

async function buildKitOutcome(h: Harness, c: Case, files: ContextFile[], parent: PushedParent | undefined): Promise<Outcome> {
  const tag = `eksd-differential/case:${randomBytes(6).toString('hex')}`;
  try {
    const result = await h.builder.build({ image: 'case', platform: c.platform, context: contextTar(files), dockerfile: DOCKERFILE, buildArgs: c.buildArgs, tag,
      ...(parent ? { parents: { BASE_IMAGE: { client: h.client, repository: parent.repository, digest: parent.index } } } : {}) }, () => {});
    const image = await exportImage(h.docker, result.imageId, parent ? { diffIds: parent.diffIds, layers: parent.layers } : undefined, join(h.work, 'buildkit'), result.parentNames);
    return await outcomeOf(image, parent?.layers.length ?? 0);
  } catch (e) {
    return { kind: 'failed', message: (e as Error).message };
  } finally {
    await h.docker.getImage(tag).remove({ force: true }).catch(() => undefined);
  }
}

async function outcomeOf(image: ExportedImage, parentLayers: number): Promise<Outcome> {
  if (image.inherited !== parentLayers) return { kind: 'failed', message: `the image keeps ${image.inherited} of the parent's ${parentLayers} layers` };
  const layers = await Promise.all(image.layers.slice(image.inherited).map((l) => readLayer(l.path!)));
  return { kind: 'image', config: JSON.parse(image.config.toString('utf8')) as Json, layers };
}

/** Every difference, assembled first; empty when equal, when both failed, or when the qualifier refused. */
export function differences(assembled: Outcome, buildkit: Outcome): string[] {
  if (assembled.kind === 'refused') return [];
  if (assembled.kind === 'failed' || buildkit.kind !== 'image') {
    if (assembled.kind === buildkit.kind) return [];
    return [`outcome: assembled ${describe(assembled)}, BuildKit ${describe(buildkit)}`];
  }
  return [...configDifferences(assembled.config, buildkit.config), ...layerDifferences(assembled.layers, buildkit.layers)];
}

function describe(o: Outcome): string {
  return o.kind === 'image' ? 'an image' : o.kind === 'failed' ? `failed (${o.message.split('\n')[0]})` : `refused (${o.reason})`;
}

/**
 * Set aside, by name: what BuildKit 0.8 stamps with the time of the build (`created`, each history
 * entry's `created`), and the new layers' diff_ids, which hash those layers' build-time mtimes (the
 * layers themselves are compared entry by entry).
 */
const SET_ASIDE = [/^created$/, /^history\[\d+\]\.created$/, /^rootfs\.diff_ids\[\d+\]$/];

export function configDifferences(a: unknown, b: unknown, path = ''): string[] {
  if (SET_ASIDE.some((re) => re.test(path))) return [];
  if (Array.isArray(a) && Array.isArray(b)) {
    const out = a.length === b.length ? [] : [`config ${path}: assembled has ${a.length} items, BuildKit ${b.length}: assembled ${JSON.stringify(a)}, BuildKit ${JSON.stringify(b)}`];
    for (let i = 0; i < Math.min(a.length, b.length); i++) out.push(...configDifferences(a[i], b[i], `${path}[${i}]`));
    return out;
  }
  if (isObject(a) && isObject(b)) {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort().flatMap((k) => configDifferences(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [`config ${path}: assembled ${JSON.stringify(a)}, BuildKit ${JSON.stringify(b)}`];
}

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * An entry as compared. Set aside, by name: mtime, atime and ctime (BuildKit 0.8 writes the build's
 * time); uname and gname (dockerd's differ looks the ids up in the build host's /etc/passwd, BuildKit
 * 0.12 and later write none); how numbers are written (dockerd's differ adds Go 1.8 file-type bits to the
 * mode and pads to 7 digits). Numbers are compared by value.
 */
const TIMES = new Set(['mtime', 'atime', 'ctime']);
const num = (s: string | undefined): number => parseInt((s ?? '').trim() || '0', 8);

function layerDifferences(a: RawEntry[][], b: RawEntry[][]): string[] {
  const out = a.length === b.length ? [] : [`layers: assembled makes ${a.length}, BuildKit ${b.length}`];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!.map(comparable);
    const y = b[i]!.map(comparable);
    if (x.length !== y.length) out.push(`layer ${i}: assembled ${x.length} entries [${a[i]!.map((e) => e.path).join(', ')}], BuildKit ${y.length} [${b[i]!.map((e) => e.path).join(', ')}]`);
    for (let j = 0; j < Math.min(x.length, y.length); j++) {
      if (x[j] !== y[j]) { out.push(`layer ${i} entry ${j}: assembled ${x[j]}, BuildKit ${y[j]}`); break; }
    }
  }
  return out;
}

function comparable(e: RawEntry): string {
  const pax = Object.fromEntries(Object.entries(e.pax).filter(([k]) => !TIMES.has(k)).sort());
  const withPax = Object.keys(pax).length > 0;
  return JSON.stringify({ path: e.path, type: e.typeflag, mode: (num(e.fields.mode) & 0o7777).toString(8), uid: num(e.fields.uid), gid: num(e.fields.gid),
    size: num(e.fields.size), link: e.fields.linkname, sha256: e.sha256, name: e.name, prefix: e.prefix, ...(withPax ? { pax, paxHeaderName: e.paxHeaderName } : {}) });
}
