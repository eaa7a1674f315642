/**
 * The regular files of one image layer and the sha256 of each, read from the layer blob as it streams
 * (tar or tar+gzip; the gzip magic decides). Whiteouts, directories and links are not files the layer adds.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import { EksdError } from '../errors.ts';

export interface LayerFile {
  path: string;
  sha256: string;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Lists the regular files of a layer, sorted by path; `where` names the layer in errors. */
export async function layerFiles(
  blob: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  mediaType: string,
  where = 'layer',
): Promise<LayerFile[]> {
  refuseUnreadable(mediaType, where);
  const source = blob as AsyncIterable<Uint8Array>;
  const { first, rest } = await peek(source);
  const gzipped = first !== undefined && first[0] === GZIP_MAGIC[0] && first[1] === GZIP_MAGIC[1];
  const input = Readable.from(rest);
  const files = new Map<string, string>();
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    const path = layerPath(header);
    if (path === undefined) {
      stream.on('end', next).resume();
      return;
    }
    const hash = createHash('sha256');
    stream.on('data', (chunk) => hash.update(chunk as Buffer));
    stream.on('end', () => {
      files.set(path, hash.digest('hex'));
      next();
    });
  });
  try {
    await (gzipped ? pipeline(input, createGunzip(), ex) : pipeline(input, ex));
  } catch (cause) {
    throw new EksdError('ATTEST_LAYER_UNREADABLE', `cannot read ${where} (${mediaType}) as a tar${gzipped ? '+gzip' : ''} archive: ${(cause as Error).message}`, {
      where,
      hint: 'the layer blob is corrupt or not the media type its manifest says; pull it again and check its digest',
      cause,
    });
  }
  return [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([path, sha256]) => ({ path, sha256 }));
}

function refuseUnreadable(mediaType: string, where: string): void {
  if (/zstd/.test(mediaType)) {
    throw new EksdError('ATTEST_LAYER_UNSUPPORTED', `${where} is zstd-compressed (${mediaType}); the SBOM lists files of tar and tar+gzip layers only`, {
      where,
      hint: 'build the image with gzip layers (the default of the assembler and of BuildKit without compression=zstd)',
    });
  }
  if (!/tar/.test(mediaType)) {
    throw new EksdError('ATTEST_LAYER_UNSUPPORTED', `${where} has media type ${mediaType}, not a tar layer`, {
      where,
      hint: 'only image layers (application/vnd.oci.image.layer.v1.tar[+gzip], Docker rootfs.diff.tar[.gzip]) hold files',
    });
  }
}

/** The path a regular-file entry adds, without './' or '/'; undefined for anything else and for whiteouts. */
function layerPath(header: Header): string | undefined {
  if (header.type !== 'file' && header.type !== 'contiguous-file') return undefined;
  const path = header.name.replace(/^(\.?\/)+/, '');
  const base = path.split('/').pop() ?? '';
  return path === '' || base.startsWith('.wh.') ? undefined : path;
}

/** The first bytes of a stream (at least two, when it has them) and an iterable that yields everything. */
async function peek(source: AsyncIterable<Uint8Array>): Promise<{ first?: Uint8Array; rest: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  for (let size = 0; size < 2; ) {
    const next = await iterator.next();
    if (next.done) break;
    head.push(next.value);
    size += next.value.byteLength;
  }
  const first = head.length ? Buffer.concat(head) : undefined;
  async function* rest(): AsyncGenerator<Uint8Array> {
    if (first) yield first;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { first, rest: rest() };
}
