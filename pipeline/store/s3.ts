/**
 * The Store on Amazon S3 (production), through @aws-sdk/client-s3. Create-only writes send
 * `If-None-Match: *` and replace-only-this-version writes `If-Match: <etag>` (S3 conditional writes);
 * 412 is a failed condition. Only NoSuchKey / 404 means absent: AccessDenied and every other error stop
 * the run naming the bucket and key. A conditional write retried after a lost reply answers 412; the
 * callers compare what is there with what they wrote (see putOnce and the lease).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { EksdError } from '../errors.ts';
import { preconditionFailed, type Body, type Condition, type Store, type StoredObject } from './store.ts';

export interface S3StoreOptions {
  bucket: string;
  /** key prefix, '' or ending with '/' */
  prefix?: string;
  region: string;
  /** an S3-compatible endpoint (path-style addressing) */
  endpoint?: string;
  /** canned ACL for every object written, e.g. public-read */
  acl?: string;
  client?: S3Client;
}

const CONTENT_TYPES: [RegExp, string][] = [
  [/\.ya?ml$/, 'application/yaml'], [/\.json$/, 'application/json'], [/\.md$/, 'text/markdown; charset=utf-8'],
  [/(\.sha256|\.sha512|SHA256SUM|SHA512SUM)$/, 'text/plain; charset=utf-8'], [/\.txt$/, 'text/plain; charset=utf-8'],
];

export class S3Store implements Store {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly acl: string | undefined;

  constructor(o: S3StoreOptions) {
    this.bucket = o.bucket;
    this.prefix = o.prefix ? o.prefix.replace(/^\/+/, '').replace(/\/*$/, '/') : '';
    this.acl = o.acl || undefined;
    this.client = o.client ?? new S3Client({ region: o.region, ...(o.endpoint ? { endpoint: o.endpoint, forcePathStyle: true } : {}) });
  }

  where(key: string): string {
    return `s3://${this.bucket}/${this.prefix}${key}`;
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      const bytes = Buffer.from(await out.Body!.transformToByteArray());
      return { bytes, etag: out.ETag ?? '' };
    } catch (e) {
      if (notFound(e)) return undefined;
      throw s3Error(e, 'read', this.where(key));
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
      throw s3Error(e, 'read', this.where(key));
    }
  }

  async list(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    const full = this.prefix + prefix;
    do {
      let out;
      try {
        out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }));
      } catch (e) {
        throw s3Error(e, 'list', this.where(prefix));
      }
      for (const o of out.Contents ?? []) if (o.Key && o.Key.length > full.length) names.push(o.Key.slice(full.length));
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
      if (status(e) === 412) throw preconditionFailed(this.where(key), condition);
      throw s3Error(e, 'write', this.where(key));
    }
  }

  async delete(key: string, condition: { ifMatch?: string } = {}): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, ...(condition.ifMatch ? { IfMatch: condition.ifMatch } : {}) }));
    } catch (e) {
      if (status(e) === 412) throw preconditionFailed(this.where(key), condition);
      if (notFound(e)) return;
      throw s3Error(e, 'delete', this.where(key));
    }
  }
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

function s3Error(e: unknown, action: string, where: string): EksdError {
  const err = e as AwsError;
  const code = err.Code ?? err.name ?? 'Error';
  const http = status(e);
  const hint = /AccessDenied|Forbidden|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken/.test(code) || http === 403
    ? 'the credentials lack access to this bucket and key (s3:GetObject, s3:PutObject, s3:ListBucket, s3:DeleteObject on the state prefix); fix the role or bucket policy, then run again'
    : code === 'NoSuchBucket' ? 'the bucket does not exist: check EKSD_SITE_BUCKET and the region'
      : http === undefined ? 'S3 could not be reached: check the endpoint, network and proxy settings, then run again (the run resumes)'
        : 'run again later (the run resumes); if it persists, check the bucket';
  return new EksdError(http === 403 || /AccessDenied/.test(code) ? 'STORE_ACCESS_DENIED' : 'STORE_FAILED',
    `cannot ${action} ${where}: ${code}${http ? ` (HTTP ${http})` : ''}${err.message && err.message !== code ? `: ${err.message}` : ''}`,
    { where, hint, cause: e });
}
