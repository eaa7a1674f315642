/**
 * Turns a built image in the engine into pushable OCI parts: the exact config bytes and one gzip blob
 * per layer. Layers inherited from the parent are not recompressed: they keep the parent's descriptors.
 * New layers are compressed once per diffID and cached, so a rebuild that produces the same layer
 * content yields the same blob digest (and the registry already has it).
 *
 * Parents the engine pulled from our loopback endpoint are named there by a proxied name; the config
 * gets their real names back, so it reads as if the engine had pulled them from their registries.
 */
import type Docker from 'dockerode';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { MEDIA, type Descriptor } from '../../image/media-types.ts';
import type { Image, Layer } from '../../image/image.ts';

export interface ParentLayers { diffIds: string[]; layers: Descriptor[] }

export async function exportImage(docker: Docker, imageId: string, parent: ParentLayers | undefined, cacheDir: string,
  parentNames: Array<[string, string]> = []): Promise<Image> {
  const dir = await mkdtemp(join(tmpdir(), 'eksd-export-'));
  try {
    const saved = await saveToDir(docker, imageId, dir);
    const config = realParentNames(await readFile(join(dir, saved.config)), parentNames);
    const diffIds = (JSON.parse(config.toString('utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
    const inherited = parent && parent.diffIds.every((d, i) => diffIds[i] === d) ? parent.diffIds.length : 0;
    const layers: Layer[] = [];
    for (let i = 0; i < diffIds.length; i++) {
      layers.push(i < inherited ? parent!.layers[i]! : await compressedLayer(join(dir, saved.layers[i]!), diffIds[i]!, cacheDir));
    }
    return { config, configDigest: `sha256:${createHash('sha256').update(config).digest('hex')}`, layers, inherited };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The config with each proxied parent name ([proxied, real]) replaced by the real one; the bytes unchanged when none occurs. */
export function realParentNames(config: Buffer, parentNames: Array<[string, string]>): Buffer {
  const text = config.toString('utf8');
  const out = parentNames.reduce((t, [proxied, real]) => t.split(proxied).join(real), text);
  return out === text ? config : Buffer.from(out, 'utf8');
}

async function saveToDir(docker: Docker, imageId: string, dir: string): Promise<{ config: string; layers: string[] }> {
  const tar = await docker.getImage(imageId).get();
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      if (header.type !== 'file') { stream.resume(); stream.on('end', next); return; }
      const target = join(dir, header.name.replace(/\//g, '__'));
      pipeline(stream, createWriteStream(target)).then(() => next(), reject);
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  (tar as NodeJS.ReadableStream).pipe(ex);
  await done;
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Array<{ Config: string; Layers: string[] }>;
  const m = manifest[0]!;
  return { config: m.Config.replace(/\//g, '__'), layers: m.Layers.map((l) => l.replace(/\//g, '__')) };
}

/** gzip of one layer tar, cached by diffID: compressing the same content twice would waste time and give no new digest. */
async function compressedLayer(layerTar: string, diffId: string, cacheDir: string): Promise<Layer> {
  const dir = join(cacheDir, 'layers');
  const meta = join(dir, `${diffId.replace(':', '-')}.json`);
  if (existsSync(meta)) {
    const cached = JSON.parse(await readFile(meta, 'utf8')) as Layer;
    if (cached.path && existsSync(cached.path)) return cached;
  }
  await mkdir(dir, { recursive: true });
  // Unique per compression: two platforms of a run can compress layers in the same millisecond.
  const tmp = join(dir, `${process.pid}-${Date.now()}-${randomBytes(4).toString('hex')}.tmp`);
  const hash = createHash('sha256');
  let size = 0;
  const gzip = createGzip({ level: 6 });
  gzip.on('data', (c: Buffer) => { hash.update(c); size += c.length; });
  await pipeline(createReadStream(layerTar), gzip, createWriteStream(tmp));
  const digest = `sha256:${hash.digest('hex')}`;
  const path = join(dir, `${digest.replace(':', '-')}.tar.gz`);
  await rename(tmp, path);
  const blob: Layer = { mediaType: MEDIA.ociLayerGzip, digest, size, path };
  await writeFile(`${tmp}.json`, JSON.stringify(blob));
  await rename(`${tmp}.json`, meta); // never read half-written by a concurrent export
  return blob;
}
