/**
 * The Store on Amazon S3 (production), through @aws-sdk/client-s3. Create-only writes send
 * `If-None-Match: *` and replace-only-this-version writes `If-Match: <etag>` (S3 conditional writes).
 * A conditional write that does not happen is a failed condition with its reason: 412 (exists, or
 * changed), 404 (If-Match on a key that was deleted: gone) and 409 ConditionalRequestConflict (a
 * concurrent write: nothing written, retry). Only NoSuchKey / 404 on a read means absent: AccessDenied and
 * every other error stop the run naming the bucket and key. A conditional write retried after a lost
 * reply answers 412; the callers compare what is there with what they wrote (see putOnce and the lease).
 * Every request has a timeout (connect and idle socket, `timeoutMs`): a hung request fails naming the
 * bucket and key instead of holding the run.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { EksdError } from '../errors.ts';
import { preconditionFailed, type Body, type Condition, type ConditionReason, type Store, type StoredObject } from './store.ts';

export interface S3StoreOptions {
  bucket: string;
  /** key prefix, '' or ending with '/' */
  prefix?: string;
  region: string;
  /** an S3-compatible endpoint (path-style addressing) */
  endpoint?: string;
  /** canned ACL for every object written, e.g. public-read */
  acl?: string;
  /** how long a request may wait to connect or for the next byte of an answer (default 60 s) */
  timeoutMs?: number;
  client?: S3Client;
}

export const DEFAULT_S3_TIMEOUT_MS = 60_000;

/** The reply's `Date` header, kept beside a GetObject's output (set by the client's middleware). */
const REPLY_DATE = Symbol('reply date');

const CONTENT_TYPES: [RegExp, string][] = [
  [/\.ya?ml$/, 'application/yaml'], [/\.json$/, 'application/json'], [/\.md$/, 'text/markdown; charset=utf-8'],
  [/(\.sha256|\.sha512|SHA256SUM|SHA512SUM)$/, 'text/plain; charset=utf-8'], [/\.txt$/, 'text/plain; charset=utf-8'],
  [/\.svg$/, 'image/svg+xml'],
];

export class S3Store implements Store {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly acl: string | undefined;
  private readonly timeoutMs: number;

  constructor(o: S3StoreOptions) {
    this.bucket = o.bucket;
    this.prefix = o.prefix ? o.prefix.replace(/^\/+/, '').replace(/\/*$/, '/') : '';
    this.acl = o.acl || undefined;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS;
    this.client = o.client ?? new S3Client({
      region: o.region, ...(o.endpoint ? { endpoint: o.endpoint, forcePathStyle: true } : {}),
      requestHandler: { connectionTimeout: Math.min(this.timeoutMs, 10_000), requestTimeout: this.timeoutMs, throwOnRequestTimeout: true },
    });
    keepReplyDate(this.client);
  }

  where(key: string): string {
    return `s3://${this.bucket}/${this.prefix}${key}`;
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      const bytes = Buffer.from(await out.Body!.transformToByteArray());
      const age = ageMs(out.LastModified, (out as { [REPLY_DATE]?: string })[REPLY_DATE]);
      return { bytes, etag: out.ETag ?? '', ...(age !== undefined ? { ageMs: age } : {}) };
    } catch (e) {
      if (notFound(e)) return undefined;
      throw this.error(e, 'read', key);
    }
  }

  async read(key: string): Promise<Readable | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      const body = out.Body;
      if (body instanceof Readable) return body;
      return Readable.fromWeb(body!.transformToWebStream() as import('node:stream/web').ReadableStream);
    } catch (e) {
      if (notFound(e)) return undefined;
      throw this.error(e, 'read', key);
    }
  }

  list(prefix: string): Promise<string[]> {
    return this.entries(prefix, 'file');
  }

  folders(prefix: string): Promise<string[]> {
    return this.entries(prefix, 'dir');
  }

  private async entries(prefix: string, kind: 'file' | 'dir'): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    const full = this.prefix + prefix;
    do {
      let out;
      try {
        out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }));
      } catch (e) {
        throw this.error(e, 'list', prefix);
      }
      if (kind === 'file') for (const o of out.Contents ?? []) { if (o.Key && o.Key.length > full.length) names.push(o.Key.slice(full.length)); }
      else for (const p of out.CommonPrefixes ?? []) { if (p.Prefix && p.Prefix.length > full.length) names.push(p.Prefix.slice(full.length).replace(/\/$/, '')); }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return names.sort();
  }

  async put(key: string, body: Body, condition: Condition = {}): Promise<string> {
    const input: PutObjectCommandInput = {
      Bucket: this.bucket, Key: this.prefix + key, ...(await payload(body)),
      ...(contentType(key) ? { ContentType: contentType(key) } : {}),
      ...(this.acl ? { ACL: this.acl as PutObjectCommandInput['ACL'] } : {}),
      ...(condition.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
      ...(condition.ifMatch !== undefined ? { IfMatch: condition.ifMatch } : {}),
    };
    try {
      const out = await this.client.send(new PutObjectCommand(input));
      return out.ETag ?? '';
    } catch (e) {
      const reason = conditionReason(e, condition);
      if (reason) throw preconditionFailed(this.where(key), condition, reason);
      throw this.error(e, 'write', key, this.acl);
    }
  }

  async delete(key: string, condition: { ifMatch?: string } = {}): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, ...(condition.ifMatch ? { IfMatch: condition.ifMatch } : {}) }));
    } catch (e) {
      if (notFound(e)) return;
      const reason = conditionReason(e, condition);
      if (reason) throw preconditionFailed(this.where(key), condition, reason);
      throw this.error(e, 'delete', key);
    }
  }

  private error(e: unknown, action: string, key: string, acl?: string): EksdError {
    return s3Error(e, { action, where: this.where(key), timeoutMs: this.timeoutMs, ...(acl ? { acl } : {}) });
  }
}

/** Keeps each reply's `Date` header on the command's output, for the age of what GetObject read (once per client). */
function keepReplyDate(client: S3Client): void {
  if (client.middlewareStack.identify().some((m) => m.startsWith('eksdReplyDate'))) return;
  client.middlewareStack.add((next) => async (args) => {
    const result = await next(args);
    const date = (result.response as { headers?: Record<string, string> } | undefined)?.headers?.date;
    if (date && result.output && typeof result.output === 'object') Object.assign(result.output, { [REPLY_DATE]: date });
    return result;
  }, { step: 'build', name: 'eksdReplyDate' });
}

/** The reply's Date minus Last-Modified: how long ago the object was written, by S3's clock (1 s resolution). */
function ageMs(modified: Date | undefined, replyDate: string | undefined): number | undefined {
  const now = replyDate ? Date.parse(replyDate) : NaN;
  if (!modified || Number.isNaN(now)) return undefined;
  return Math.max(0, now - modified.getTime());
}

/** Why a conditional request was refused, or undefined when it was not a failed condition. */
function conditionReason(e: unknown, condition: Condition): ConditionReason | undefined {
  const conditional = condition.ifNoneMatch === true || condition.ifMatch !== undefined;
  const http = status(e);
  if (!conditional) return undefined;
  if (http === 412) return condition.ifNoneMatch ? 'exists' : 'changed';
  if (http === 409) return 'conflict';
  if (http === 404 && condition.ifMatch !== undefined && (e as AwsError).name !== 'NoSuchBucket') return 'gone';
  return undefined;
}

async function payload(body: Body): Promise<{ Body: PutObjectCommandInput['Body']; ContentLength?: number }> {
  if (typeof body === 'string' || body instanceof Uint8Array) return { Body: typeof body === 'string' ? Buffer.from(body) : body };
  return { Body: createReadStream(body.file), ContentLength: (await stat(body.file)).size };
}

function contentType(key: string): string | undefined {
  return CONTENT_TYPES.find(([re]) => re.test(key))?.[1];
}

interface AwsError { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } }

function status(e: unknown): number | undefined {
  return (e as AwsError).$metadata?.httpStatusCode;
}

function notFound(e: unknown): boolean {
  const err = e as AwsError;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || (status(e) === 404 && err.name !== 'NoSuchBucket');
}

interface ErrorContext { action: string; where: string; timeoutMs: number; acl?: string }

function s3Error(e: unknown, c: ErrorContext): EksdError {
  const err = e as AwsError;
  const code = err.Code ?? err.name ?? 'Error';
  const http = status(e);
  if (timedOut(err)) {
    return new EksdError('STORE_TIMEOUT', `cannot ${c.action} ${c.where}: S3 did not answer within ${c.timeoutMs / 1000} s`, {
      where: c.where, hint: 'check the endpoint, network and proxy settings (EKSD_S3_TIMEOUT sets how long to wait), then run again (the run resumes)', cause: e,
    });
  }
  const denied = http === 403 || /AccessDenied/.test(code);
  return new EksdError(denied ? 'STORE_ACCESS_DENIED' : 'STORE_FAILED',
    `cannot ${c.action} ${c.where}: ${code}${http ? ` (HTTP ${http})` : ''}${err.message && err.message !== code ? `: ${err.message}` : ''}`,
    { where: c.where, hint: hintFor(code, http, c), cause: e });
}

function timedOut(err: AwsError): boolean {
  return err.name === 'TimeoutError' || err.name === 'AbortError' || /ETIMEDOUT|timed out/i.test(err.message ?? '');
}

function hintFor(code: string, http: number | undefined, c: ErrorContext): string {
  if (code === 'AccessControlListNotSupported') {
    return `the bucket's Object Ownership is "bucket owner enforced", which refuses ACLs: unset site.acl (EKSD_SITE_ACL=${c.acl ?? ''} now) and make the site readable with a bucket policy, then run again`;
  }
  if (c.acl && /public/.test(c.acl) && (code === 'AccessDenied' || http === 403)) {
    return `writing with the ${c.acl} ACL is refused: if S3 Block Public Access (BlockPublicAcls) is on for this bucket or account, either allow public ACLs there or unset site.acl (EKSD_SITE_ACL) and serve the site through a bucket policy; else the role lacks s3:PutObjectAcl`;
  }
  if (/AccessDenied|Forbidden|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken/.test(code) || http === 403) {
    return 'the credentials lack access to this bucket and key (s3:GetObject, s3:PutObject, s3:ListBucket, s3:DeleteObject on the state prefix); fix the role or bucket policy, then run again';
  }
  if (code === 'NoSuchBucket') return 'the bucket does not exist: check EKSD_SITE_BUCKET (or EKSD_STATE_BUCKET) and the region';
  if (http === undefined) return 'S3 could not be reached: check the endpoint, network and proxy settings, then run again (the run resumes)';
  return 'run again later (the run resumes); if it persists, check the bucket';
}
