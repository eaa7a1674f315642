/** The files of a real layer, as the SBOM lists them: gzip and plain tar, whiteouts and links left out, clear errors. */
import test from 'ava';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { isEksdError } from '../pipeline/errors.ts';
import { layerFiles } from '../pipeline/attest/layer-files.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A layer as a builder writes one: './' names, directories, a symlink, a hard link, whiteouts, nested files. */
async function layerTar(): Promise<Buffer> {
  const p = pack();
  const h = { mtime: new Date(0), uid: 0, gid: 0 };
  p.entry({ ...h, name: './', type: 'directory' });
  p.entry({ ...h, name: './usr/', type: 'directory' });
  p.entry({ ...h, name: './usr/local/bin/', type: 'directory' });
  p.entry({ ...h, name: './usr/local/bin/kube-apiserver', type: 'file' }, Buffer.from('binary'));
  p.entry({ ...h, name: 'etc/kubernetes/manifests/a/b/c.yaml', type: 'file' }, Buffer.from('deep: true\n'));
  p.entry({ ...h, name: '/etc/passwd', type: 'file' }, Buffer.from('root:x:0:0\n'));
  p.entry({ ...h, name: 'empty', type: 'file' }, Buffer.alloc(0));
  p.entry({ ...h, name: 'usr/bin/apiserver', type: 'symlink', linkname: '/usr/local/bin/kube-apiserver' });
  p.entry({ ...h, name: 'usr/bin/hard', type: 'link', linkname: 'usr/local/bin/kube-apiserver' });
  p.entry({ ...h, name: 'var/lib/.wh.old-state', type: 'file' }, Buffer.alloc(0));
  p.entry({ ...h, name: 'opt/.wh..wh..opq', type: 'file' }, Buffer.alloc(0));
  p.entry({ ...h, name: 'etc/.wh.hosts.wh', type: 'file' }, Buffer.alloc(0));
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const expectedFiles = [
  { path: 'empty', sha256: sha256('') },
  { path: 'etc/kubernetes/manifests/a/b/c.yaml', sha256: sha256('deep: true\n') },
  { path: 'etc/passwd', sha256: sha256('root:x:0:0\n') },
  { path: 'usr/local/bin/kube-apiserver', sha256: sha256('binary') },
];

async function* inChunks(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

test('layerFiles lists the regular files of a gzip or plain tar layer with their sha256, sorted, without whiteouts', async (t) => {
  const tar = await layerTar();
  const gz = gzipSync(tar);
  t.deepEqual(await layerFiles(Readable.from([gz]), 'application/vnd.oci.image.layer.v1.tar+gzip'), expectedFiles);
  t.deepEqual(await layerFiles(inChunks(gz, 1), 'application/vnd.docker.image.rootfs.diff.tar.gzip'), expectedFiles);
  t.deepEqual(await layerFiles(inChunks(tar, 1000), 'application/vnd.oci.image.layer.v1.tar'), expectedFiles);
});

test('layerFiles refuses zstd layers, non-layers and corrupt blobs with a clear error', async (t) => {
  const gz = gzipSync(await layerTar());
  const zstd = await t.throwsAsync(layerFiles(inChunks(gz, 64), 'application/vnd.oci.image.layer.v1.tar+zstd', 'kube-apiserver linux/amd64 layer sha256:1'));
  t.true(isEksdError(zstd, 'ATTEST_LAYER_UNSUPPORTED'));
  t.regex(zstd!.message, /zstd/);
  t.regex((zstd as { where?: string }).where ?? '', /kube-apiserver linux\/amd64/);
  t.true(isEksdError(await t.throwsAsync(layerFiles(inChunks(gz, 64), 'application/vnd.oci.image.config.v1+json')), 'ATTEST_LAYER_UNSUPPORTED'));
  const corrupt = Buffer.concat([gz.subarray(0, 40), Buffer.alloc(200, 7)]);
  t.true(isEksdError(await t.throwsAsync(layerFiles(inChunks(corrupt, 64), 'application/vnd.oci.image.layer.v1.tar+gzip')), 'ATTEST_LAYER_UNREADABLE'));
});
