/**
 * A parent's blobs read from the real registry and passed on to the engine. A read that breaks mid-body
 * is started again and the bytes already sent are skipped, so the engine sees one unbroken body; what was
 * sent is hashed, and a body that does not match its digest is cut off before its end instead of completed.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { EksdError } from '../../errors.ts';
import { DigestAccumulator, algorithmOf } from '../../image/digest.ts';
import type { ImageSource } from '../../registry/image.ts';
import { API_HEADER } from './parent-http.ts';

/** A blob whose download breaks mid-body is read again this many times in all (each read is retried on its own). */
const BLOB_READS = 4;

export async function sendBlobHead(source: ImageSource, digest: string, res: ServerResponse): Promise<void> {
  const size = await source.client.headBlob(source.repository, digest);
  if (size === undefined) {
    res.writeHead(404, { ...API_HEADER, 'content-type': 'application/json' });
    res.end();
    return;
  }
  res.writeHead(200, { ...API_HEADER, 'content-type': 'application/octet-stream', 'docker-content-digest': digest, 'content-length': String(size) });
  res.end();
}

/** Streams the blob; `onRestart` is told of each read started again after a break. */
export async function sendBlob(source: ImageSource, digest: string, res: ServerResponse, onRestart: () => void): Promise<void> {
  const sent = new DigestAccumulator(algorithmOf(digest));
  for (let read = 1; ; read++) {
    try {
      const body = await source.client.getBlobStream(source.repository, digest);
      if (!res.headersSent) res.writeHead(200, { ...API_HEADER, 'content-type': 'application/octet-stream', 'docker-content-digest': digest });
      await forward(body, sent, res);
      break;
    } catch (e) {
      if (res.destroyed) return; // the engine gave up on this request: nothing to answer
      if (read >= BLOB_READS) throw e;
      onRestart();
    }
  }
  if (sent.digest() !== digest) {
    throw new EksdError('BUILD_PARENT_PROXY', `${source.client.describe(source.repository, digest)}: the bytes sent hash to ${sent.digest()}`, {
      where: source.client.describe(source.repository, digest), hint: 'the registry served different bytes on a second read; retry the build',
    });
  }
  res.end();
}

/** Writes what `sent` does not have yet, waiting for the engine to take each chunk. */
async function forward(body: Readable, sent: DigestAccumulator, res: ServerResponse): Promise<void> {
  let offset = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    if (res.destroyed) throw new Error('the engine closed the connection');
    const skip = Math.min(chunk.byteLength, Math.max(0, sent.size - offset));
    offset += chunk.byteLength;
    if (skip === chunk.byteLength) continue;
    const part = chunk.subarray(skip);
    sent.update(part);
    if (!res.write(part)) await drained(res);
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { res.off('drain', done); res.off('close', done); resolve(); };
    res.on('drain', done);
    res.on('close', done);
  });
}
