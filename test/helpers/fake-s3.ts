/**
 * An HTTP stand-in for Amazon S3 (path-style), implementing exactly the calls eksd makes: GetObject
 * (with `Last-Modified`; every reply has a `Date`), PutObject (with `If-None-Match: *` and
 * `If-Match: <etag>` conditional writes answered like S3: 412, and 404 for If-Match on a missing key),
 * DeleteObject (with If-Match), ListObjectsV2 (prefix, delimiter, pagination), plus injectable faults:
 * an error reply (AccessDenied, 500, 404 or 409 ConditionalRequestConflict on a conditional write, ...),
 * a write that is applied but whose reply is lost, a request that is never answered, and a switch that
 * makes it ignore conditional headers like some S3-compatible servers do.
 * Objects live in memory. Listens on 127.0.0.1 only; requests without a SigV4 Authorization header are
 * refused like S3 refuses anonymous access, except GETs of objects written with the public-read ACL,
 * which is how the public reads the distro site (`publicUrl`).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackStandIn } from './loopback-server.ts';

export interface S3Fault {
  /** which requests: method and a key test (default: any) */
  method?: 'GET' | 'PUT' | 'DELETE';
  key?: RegExp;
  /** error reply; or 'drop': apply the request, then close the connection without a reply */
  status?: number;
  code?: string;
  drop?: boolean;
  /** never answer (the connection stays open until the client gives up) */
  hang?: boolean;
  /** only requests with a conditional header (If-Match, If-None-Match) */
  conditional?: boolean;
}

interface Obj { bytes: Buffer; etag: string; modified: Date; contentType?: string; acl?: string }

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export class FakeS3 extends LoopbackStandIn {
  readonly buckets = new Map<string, Map<string, Obj>>();
  /** every request as "METHOD key" (key '' for a listing) */
  readonly requests: string[] = [];
  private readonly faults: S3Fault[] = [];
  /** When set, If-Match and If-None-Match are ignored: every write is applied (an endpoint without conditional writes). */
  ignoreConditions = false;
  /** When set, only If-Match is ignored (an endpoint that honours create-only writes and nothing else). */
  ignoreIfMatch = false;

  constructor(buckets: string[] = []) {
    super();
    for (const b of buckets) this.buckets.set(b, new Map());
  }

  /** The next request matching each fault fails that way, once. */
  failNext(...faults: S3Fault[]): void {
    this.faults.push(...faults);
  }

  object(bucket: string, key: string): Buffer | undefined {
    return this.buckets.get(bucket)?.get(key)?.bytes;
  }

  keys(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.keys() ?? [])].sort();
  }


  /** Where the public reads a bucket's public-read objects. */
  publicUrl(bucket: string): string {
    return `${this.endpoint}/${bucket}`;
  }

  /** Environment for an eksd child process using this stand-in. */
  env(bucket: string): Record<string, string> {
    return { EKSD_SITE_BUCKET: bucket, EKSD_S3_ENDPOINT: this.endpoint, AWS_ACCESS_KEY_ID: 'AKIDLOCAL', AWS_SECRET_ACCESS_KEY: 'local-secret', AWS_REGION: 'us-east-1' };
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://s3.local');
    const [, bucketName = '', ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const method = req.method ?? 'GET';
    const body = decodeChunked(req.headers, await readBody(req));
    this.requests.push(`${method} ${key}`);
    const error = (status: number, code: string, message = code): void => {
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(method === 'HEAD' ? undefined : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${xml(message)}</Message><Key>${xml(key)}</Key></Error>`);
    };
    const bucket = this.buckets.get(bucketName);
    const anonymous = !req.headers.authorization?.startsWith('AWS4-HMAC-SHA256');
    if (anonymous && !(method === 'GET' && bucket?.get(key)?.acl === 'public-read')) return error(403, 'AccessDenied', 'Anonymous access is forbidden');
    if (!bucket) return error(404, 'NoSuchBucket', 'The specified bucket does not exist');
    const conditional = req.headers['if-match'] !== undefined || req.headers['if-none-match'] !== undefined;
    const fault = this.takeFault(method, key, conditional);
    if (fault?.hang) return; // no reply: the client's timeout has to end it
    if (fault && !fault.drop) return error(fault.status ?? 500, fault.code ?? 'InternalError');
    const reply = (status: number, headers: Record<string, string>, text?: string | Buffer): void => {
      if (fault?.drop) { req.socket.destroy(); return; }
      res.writeHead(status, headers);
      res.end(text);
    };
    if (method === 'GET' && key === '' && url.searchParams.get('list-type') === '2') return reply(200, { 'content-type': 'application/xml' }, list(bucketName, bucket, url.searchParams));
    const have = bucket.get(key);
    if (method === 'GET' || method === 'HEAD') {
      if (!have) return error(404, 'NoSuchKey', 'The specified key does not exist.');
      return reply(200, { etag: have.etag, 'content-length': String(have.bytes.length), 'content-type': have.contentType ?? 'binary/octet-stream',
        'last-modified': have.modified.toUTCString() }, method === 'GET' ? have.bytes : undefined);
    }
    const ifNoneMatch = this.ignoreConditions ? undefined : req.headers['if-none-match'];
    const ifMatch = this.ignoreConditions || this.ignoreIfMatch ? undefined : req.headers['if-match'];
    if (ifNoneMatch === '*' && have) return error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
    if (ifMatch !== undefined && have?.etag !== ifMatch) return error(have ? 412 : 404, have ? 'PreconditionFailed' : 'NoSuchKey');
    if (method === 'PUT') {
      const etag = `"${createHash('md5').update(body).digest('hex')}"`;
      const acl = req.headers['x-amz-acl'];
      bucket.set(key, { bytes: body, etag, modified: new Date(), ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}), ...(typeof acl === 'string' ? { acl } : {}) });
      return reply(200, { etag });
    }
    if (method === 'DELETE') {
      bucket.delete(key);
      return reply(204, {});
    }
    return error(405, 'MethodNotAllowed');
  }

  private takeFault(method: string, key: string, conditional: boolean): S3Fault | undefined {
    const i = this.faults.findIndex((f) => (!f.method || f.method === method) && (!f.key || f.key.test(key)) && (!f.conditional || conditional));
    return i < 0 ? undefined : this.faults.splice(i, 1)[0];
  }
}

function list(name: string, bucket: Map<string, Obj>, q: URLSearchParams): string {
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const max = Number(q.get('max-keys') ?? 1000);
  const after = q.get('continuation-token') ?? q.get('start-after') ?? '';
  const contents: string[] = [];
  const prefixes = new Set<string>();
  let truncated = false;
  let last = '';
  for (const key of [...bucket.keys()].sort()) {
    if (!key.startsWith(prefix) || key <= after) continue;
    const restKey = key.slice(prefix.length);
    const cut = delimiter ? restKey.indexOf(delimiter) : -1;
    if (contents.length + prefixes.size >= max) { truncated = true; break; }
    if (cut >= 0) prefixes.add(prefix + restKey.slice(0, cut + delimiter.length));
    else contents.push(key);
    last = key;
  }
  const o = (k: string): string => `<Contents><Key>${xml(k)}</Key><ETag>${xml(bucket.get(k)!.etag)}</ETag><Size>${bucket.get(k)!.bytes.length}</Size></Contents>`;
  return `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${xml(name)}</Name><Prefix>${xml(prefix)}</Prefix><KeyCount>${contents.length + prefixes.size}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${truncated ? `<NextContinuationToken>${xml(last)}</NextContinuationToken>` : ''}${contents.map(o).join('')}${[...prefixes].map((p) => `<CommonPrefixes><Prefix>${xml(p)}</Prefix></CommonPrefixes>`).join('')}</ListBucketResult>`;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Bodies the SDK sends with `Content-Encoding: aws-chunked` (checksum trailers): the payload alone. */
function decodeChunked(headers: IncomingMessage['headers'], raw: Buffer): Buffer {
  if (!String(headers['content-encoding'] ?? '').includes('aws-chunked')) return raw;
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    const size = parseInt(raw.subarray(at, eol).toString('latin1').split(';')[0]!, 16);
    if (!size) return Buffer.concat(parts);
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
