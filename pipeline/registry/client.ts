import type { Readable } from 'node:stream';
import { redact } from '../errors.ts';
import { Authenticator, isLoopback } from './auth.ts';
import { getBlob, getBlobStream, headBlob, mountBlob } from './blobs.ts';
import type { CredentialSource } from './credentials.ts';
import { digestOf } from '../image/digest.ts';
import type { Descriptor } from '../image/media-types.ts';
import { clientError } from './errors.ts';
import { DEFAULT_HOST_BUDGET, HostBudget, type HostBudgetPolicy } from './host-budget.ts';
import { DEFAULT_RETRY, HostGate, type RetryPolicy } from './http.ts';
import * as manifests from './manifests.ts';
import type { Manifest, ManifestHead } from './manifests.ts';
import { describeRef, validateDigest, validateRef, validateRegistry, validateRepository } from './reference.ts';
import { isBytes, sourceSize, type BlobSource } from './sources.ts';
import { Transport } from './transport.ts';
import { uploadBlob } from './upload.ts';
import { EksdError } from '../errors.ts';

const atOnce = (transfer: () => Promise<PushedBlob>): Promise<PushedBlob> => transfer();

export interface RegistryClientOptions {
  /** "host:port" or "host". */
  registry: string;
  credentials?: CredentialSource;
  /** Requests in flight to this registry at once (default 8). */
  concurrency?: number;
  /** A request fails when no byte moves for this long (default 30 000 ms). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** When the host as a whole is given up on (default DEFAULT_HOST_BUDGET). */
  hostBudget?: Partial<HostBudgetPolicy>;
  log?: (line: string) => void;
  /** true: plain http; false: https. Default: http for loopback hosts, https otherwise. */
  insecure?: boolean;
  /** Blobs larger than this are uploaded in PATCH chunks (default 256 MiB). */
  chunkThreshold?: number;
  /** Chunk size for chunked uploads (default 32 MiB). */
  chunkSize?: number;
}

export interface PushBlobOptions {
  digest?: string;
  size?: number;
  /** A repository of the same registry that has the blob: try a cross-repository mount first. */
  mountFrom?: string;
  /** Runs the mount or upload (not the HEAD before it), e.g. in a turn of a pacer; default: at once. */
  pace?: (transfer: () => Promise<PushedBlob>) => Promise<PushedBlob>;
  /** The blob is new (a fresh signature): no HEAD before the upload. */
  fresh?: boolean;
}

export interface PushedBlob {
  digest: string;
  size: number;
  /** exists: the repository had it (HEAD found it, or this client pushed it before); mounted: cross-repo mount; uploaded: bytes sent. */
  status: 'exists' | 'mounted' | 'uploaded';
}

/** A client for each registry host, made once per run (app/clients.ts). */
export type ClientFactory = (registry: string) => RegistryClient;

/** An OCI distribution client for one registry: manifests, blobs, tags; retries, limits and auth built in. */
export class RegistryClient {
  readonly registry: string;
  readonly baseUrl: URL;
  private readonly t: Transport;
  /** Blob pushes by "repo@digest", in flight or done; a failed one is forgotten (see pushBlob). */
  private readonly pushes = new Map<string, Promise<PushedBlob>>();
  private readonly chunkThreshold: number;
  /** By repository, whether its first referrers request found the API (false: it answered 404, there is none). */
  private readonly referrersApi = new Map<string, Promise<boolean>>();
  private readonly chunkSize: number;

  constructor(o: RegistryClientOptions) {
    const bad = validateRegistry(o.registry);
    if (bad) throw new EksdError('REGISTRY_INVALID', bad, { where: o.registry, hint: 'pass the registry as host or host:port' });
    this.registry = o.registry;
    const http = o.insecure ?? isLoopback(o.registry);
    this.baseUrl = new URL(`${http ? 'http' : 'https'}://${o.registry}/`);
    const log = (line: string): void => o.log?.(redact(line));
    const retry = { ...DEFAULT_RETRY, ...o.retry };
    const timeoutMs = o.timeoutMs ?? 30_000;
    const auth = new Authenticator({ registry: o.registry, baseUrl: this.baseUrl, timeoutMs, retry, log,
      ...(o.credentials ? { credentials: o.credentials } : {}) });
    const budget = new HostBudget(o.registry, { ...DEFAULT_HOST_BUDGET, ...o.hostBudget });
    this.t = new Transport({ registry: o.registry, baseUrl: this.baseUrl, auth, gate: new HostGate(o.concurrency ?? 8), budget, retry, timeoutMs, log });
    this.chunkThreshold = o.chunkThreshold ?? 256 * 1024 * 1024;
    this.chunkSize = o.chunkSize ?? 32 * 1024 * 1024;
  }

  /** Fails before any request when a repository, tag or digest is malformed. */
  private check(operation: string, repo: string, ref?: string, kind: 'ref' | 'digest' = 'ref'): void {
    const problem = validateRepository(repo) ?? (ref === undefined ? undefined : kind === 'digest' ? validateDigest(ref) : validateRef(ref));
    if (problem) throw clientError({ registry: this.registry, repository: repo, reference: ref ?? '', operation }, 'INVALID_ARGUMENT', problem,
      'fix the repository name, tag or digest');
  }

  /** "registry/repo:tag" for messages. */
  describe(repo: string, ref?: string): string {
    return describeRef(this.registry, repo, ref);
  }

  async headManifest(repo: string, ref: string): Promise<ManifestHead | undefined> {
    this.check('head manifest', repo, ref);
    return manifests.headManifest(this.t, repo, ref);
  }

  async getManifest(repo: string, ref: string): Promise<Manifest> {
    this.check('get manifest', repo, ref);
    return manifests.getManifest(this.t, repo, ref);
  }

  async putManifest(repo: string, ref: string, bytes: Uint8Array, mediaType: string): Promise<string> {
    this.check('put manifest', repo, ref);
    return manifests.putManifest(this.t, repo, ref, bytes, mediaType);
  }

  /** putManifest, with the reply's OCI-Subject header (set by registries with the referrers API). */
  async putManifestWithSubject(repo: string, ref: string, bytes: Uint8Array, mediaType: string): Promise<{ digest: string; subject?: string }> {
    this.check('put manifest', repo, ref);
    return manifests.putManifestWithSubject(this.t, repo, ref, bytes, mediaType);
  }

  /**
   * The referrers API's answer, undefined when the registry has none. A registry with the API never
   * answers 404 there for a repository it has (distribution spec 1.1), so one 404 settles it for the
   * repository: no further request there from this client, and none while the first is on its way.
   */
  async getReferrers(repo: string, digest: string, artifactType?: string): Promise<{ manifests: Descriptor[]; filtered: boolean } | undefined> {
    this.check('get referrers of', repo, digest, 'digest');
    const first = this.referrersApi.get(repo);
    if (first && !(await first)) return undefined;
    const answer = manifests.getReferrers(this.t, repo, digest, artifactType);
    if (!first) this.referrersApi.set(repo, answer.then((a) => a !== undefined, () => { this.referrersApi.delete(repo); return true; }));
    return answer;
  }

  async deleteManifest(repo: string, digest: string): Promise<void> {
    this.check('delete manifest', repo, digest, 'digest');
    return manifests.deleteManifest(this.t, repo, digest);
  }

  async listTags(repo: string, options: { pageSize?: number } = {}): Promise<string[]> {
    this.check('list tags', repo);
    return manifests.listTags(this.t, repo, options.pageSize);
  }

  async headBlob(repo: string, digest: string): Promise<number | undefined> {
    this.check('head blob', repo, digest, 'digest');
    return headBlob(this.t, repo, digest);
  }

  async getBlob(repo: string, digest: string): Promise<Buffer> {
    this.check('get blob', repo, digest, 'digest');
    return getBlob(this.t, repo, digest);
  }

  /** The blob as a stream, verified at its end; `onChunk` is called per chunk read (progress, watchdogs). */
  async getBlobStream(repo: string, digest: string, onChunk?: () => void): Promise<Readable> {
    this.check('get blob', repo, digest, 'digest');
    return getBlobStream(this.t, repo, digest, onChunk);
  }

  /**
   * Pushes a blob unless the repository has it: HEAD, then a mount from `mountFrom` when given (falling
   * back to an upload), else an upload. Each blob goes into each repository once per client: concurrent
   * and later pushes of it get the first push's outcome (as `exists`) and send nothing. The registry
   * rewrites a blob's link in the repository on every mount or upload of it, even one it already has,
   * and a manifest PUT that reads the link meanwhile fails (distribution's filesystem storage truncates
   * the link before writing it: DIGEST_INVALID and MANIFEST_BLOB_UNKNOWN); so a link once written is
   * never written again while manifests that use it may be going up.
   */
  async pushBlob(repo: string, source: BlobSource, options: PushBlobOptions = {}): Promise<PushedBlob> {
    this.check('push blob', repo, options.digest, 'digest');
    if (options.mountFrom !== undefined) this.check('push blob', options.mountFrom);
    const size = options.size ?? await sourceSize(source);
    const digest = options.digest ?? (isBytes(source) ? digestOf(source) : undefined);
    if (isBytes(source) && size !== source.byteLength) {
      throw clientError({ registry: this.registry, repository: repo, reference: digest ?? '', operation: 'push blob' }, 'SIZE_INVALID',
        `size ${size} given for a ${source.byteLength}-byte blob`);
    }
    const o = { ...options, ...(size === undefined ? {} : { size }) };
    if (digest === undefined) return this.pushUnknown(repo, source, o);
    const key = `${repo}@${digest}`;
    const earlier = this.pushes.get(key);
    if (earlier) return earlier.then((r) => ({ ...r, status: 'exists' }));
    const p = this.pushKnown(repo, source, { ...o, digest });
    this.remember(key, p);
    return p;
  }

  /** Records a push; a failed one is forgotten, so that a later push tries again. */
  private remember(key: string, p: Promise<PushedBlob>): void {
    this.pushes.set(key, p);
    p.catch(() => { if (this.pushes.get(key) === p) this.pushes.delete(key); });
  }

  /** A streamed upload whose digest is known only at its end; the blob is then known like any other. */
  private async pushUnknown(repo: string, source: BlobSource, o: PushBlobOptions): Promise<PushedBlob> {
    const up = await (o.pace ?? atOnce)(async () => ({ ...(await this.upload(repo, source, o)), status: 'uploaded' }));
    const key = `${repo}@${up.digest}`;
    if (!this.pushes.has(key)) this.remember(key, Promise.resolve(up));
    return up;
  }

  private async pushKnown(repo: string, source: BlobSource, o: PushBlobOptions & { digest: string }): Promise<PushedBlob> {
    const have = o.fresh ? undefined : await headBlob(this.t, repo, o.digest);
    if (have !== undefined) return { digest: o.digest, size: have, status: 'exists' };
    return (o.pace ?? atOnce)(() => this.transfer(repo, source, o));
  }

  /** A mount when `mountFrom` names another repository (an upload when the registry declines), else an upload. */
  private async transfer(repo: string, source: BlobSource, o: PushBlobOptions & { digest: string }): Promise<PushedBlob> {
    let startLocation: URL | undefined;
    if (o.mountFrom !== undefined && o.mountFrom !== repo) {
      const m = await mountBlob(this.t, repo, o.digest, o.mountFrom);
      if (m.mounted) return { digest: o.digest, size: o.size ?? -1, status: 'mounted' };
      startLocation = m.location;
    }
    const up = await this.upload(repo, source, { ...o, ...(startLocation ? { startLocation } : {}) });
    return { ...up, status: 'uploaded' };
  }

  private upload(repo: string, source: BlobSource, o: PushBlobOptions & { startLocation?: URL }): ReturnType<typeof uploadBlob> {
    this.t.o.log(`upload ${this.describe(repo, o.digest ?? '')}${o.size === undefined ? '' : ` (${o.size} bytes)`}`);
    return uploadBlob(this.t, repo, source, {
      chunkThreshold: this.chunkThreshold, chunkSize: this.chunkSize,
      ...(o.digest === undefined ? {} : { digest: o.digest }),
      ...(o.size === undefined ? {} : { size: o.size }),
      ...(o.startLocation === undefined ? {} : { startLocation: o.startLocation }),
    });
  }

  /** Requests in flight right now (for tests and progress). */
  get inFlight(): number {
    return this.t.o.gate.inFlight;
  }
}
