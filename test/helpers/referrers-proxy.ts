/**
 * An HTTP proxy on loopback in front of a real registry that adds the distribution-spec 1.1 referrers
 * API the distribution 2.8 registry lacks: a manifest PUT whose body has a `subject` is forwarded, its
 * descriptor recorded, and the reply gets `OCI-Subject: <subject digest>`; `GET /v2/<name>/referrers/<digest>`
 * answers an OCI index of what was recorded (an empty index, never 404), filtered by `?artifactType=`
 * with `OCI-Filters-Applied: artifactType`. Everything else is forwarded as it is.
 *
 *   const proxy = await startReferrersProxy({ target: reg.host });
 *   new RegistryClient({ registry: proxy.host });
 *   proxy.afterManifestPut = async (name, ref) => { ... };   // runs before the client gets the PUT's reply
 *   await proxy.stop();
 *
 * With `referrersApi: false` it only forwards (the registry's own answers), keeping the hook.
 */
import { createHash } from 'node:crypto';
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { OCI_INDEX, OCI_MANIFEST, type Descriptor, type ManifestJson } from '../../pipeline/image/media-types.ts';

export interface ReferrersProxyOptions {
  /** "127.0.0.1:PORT" of the registry. */
  target: string;
  /** Serve the referrers API (default true). */
  referrersApi?: boolean;
}

export interface ReferrersProxy {
  host: string;
  /** Referrers recorded from manifest PUTs, by "<name>@<subject digest>". */
  recorded: Map<string, Descriptor[]>;
  /** Referrers API requests answered. */
  referrersServed: number;
  /** Runs once the registry accepted a manifest PUT, before the client gets the reply. */
  afterManifestPut: ((name: string, ref: string) => Promise<void>) | undefined;
  stop(): Promise<void>;
}

interface Reply { status: number; headers: IncomingHttpHeaders; body: Buffer }

const REFERRERS_PATH = /^\/v2\/(.+)\/referrers\/([^/?]+)(?:\?.*)?$/;
const MANIFEST_PATH = /^\/v2\/(.+)\/manifests\/([^/?]+)$/;

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function descriptorOf(body: Buffer, json: ManifestJson, contentType: string | undefined): Descriptor {
  const artifactType = json.artifactType ?? json.config?.mediaType;
  return {
    mediaType: json.mediaType ?? contentType ?? OCI_MANIFEST,
    digest: `sha256:${createHash('sha256').update(body).digest('hex')}`, size: body.length,
    ...(artifactType === undefined ? {} : { artifactType }),
    ...(json.annotations && Object.keys(json.annotations).length > 0 ? { annotations: json.annotations } : {}),
  };
}

function parse(body: Buffer): ManifestJson | undefined {
  try { return JSON.parse(body.toString('utf8')) as ManifestJson; } catch { return undefined; }
}

/** Starts the proxy on a free loopback port. */
export async function startReferrersProxy(o: ReferrersProxyOptions): Promise<ReferrersProxy> {
  const api = o.referrersApi ?? true;
  const [targetHost, targetPort] = o.target.split(':');
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();
  const proxy: ReferrersProxy = { host: '', recorded: new Map(), referrersServed: 0, afterManifestPut: undefined, stop: async () => undefined };

  const outHeaders = (headers: IncomingHttpHeaders): Record<string, string | string[]> => {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = v;
    if (typeof out.location === 'string') out.location = out.location.replace(`//${o.target}`, `//${proxy.host}`);
    return out;
  };

  const upstream = (req: IncomingMessage, body: Buffer | undefined, onReply: (res: IncomingMessage) => void, res: ServerResponse): void => {
    const up = request({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers, agent }, onReply);
    up.on('error', () => res.socket?.destroy());
    if (body === undefined) req.pipe(up); else up.end(body);
  };

  const pipeThrough = (req: IncomingMessage, res: ServerResponse): void => upstream(req, undefined, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, outHeaders(upRes.headers));
    upRes.pipe(res);
  }, res);

  const record = (name: string, body: Buffer, contentType: string | undefined): string | undefined => {
    const json = parse(body);
    const subject = json?.subject?.digest;
    if (!json || typeof subject !== 'string') return undefined;
    const d = descriptorOf(body, json, contentType);
    const list = proxy.recorded.get(`${name}@${subject}`) ?? [];
    if (!list.some((e) => e.digest === d.digest)) list.push(d);
    proxy.recorded.set(`${name}@${subject}`, list);
    return subject;
  };

  const putManifest = async (req: IncomingMessage, res: ServerResponse, name: string, ref: string): Promise<void> => {
    const body = await readAll(req);
    const reply = await new Promise<Reply>((resolve) => upstream(req, body, (upRes) => {
      void readAll(upRes).then((b) => resolve({ status: upRes.statusCode ?? 502, headers: upRes.headers, body: b }));
    }, res));
    const headers = outHeaders(reply.headers);
    if (api && reply.status === 201) {
      const subject = record(name, body, req.headers['content-type']);
      if (subject !== undefined) headers['oci-subject'] = subject;
    }
    if (reply.status < 300) await proxy.afterManifestPut?.(name, ref);
    res.writeHead(reply.status, headers);
    res.end(reply.body);
  };

  const serveReferrers = (req: IncomingMessage, res: ServerResponse, name: string, digest: string): void => {
    proxy.referrersServed++;
    const artifactType = new URL(req.url ?? '/', 'http://x').searchParams.get('artifactType');
    const all = proxy.recorded.get(`${name}@${digest}`) ?? [];
    const manifests = artifactType === null ? all : all.filter((d) => d.artifactType === artifactType);
    const headers: Record<string, string> = { 'content-type': OCI_INDEX };
    if (artifactType !== null) headers['oci-filters-applied'] = 'artifactType';
    res.writeHead(200, headers);
    res.end(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const referrers = REFERRERS_PATH.exec(url);
    const manifest = MANIFEST_PATH.exec(url);
    if (api && req.method === 'GET' && referrers) serveReferrers(req, res, referrers[1]!, decodeURIComponent(referrers[2]!));
    else if (req.method === 'PUT' && manifest) putManifest(req, res, manifest[1]!, manifest[2]!).catch(() => res.socket?.destroy());
    else pipeThrough(req, res);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  proxy.host = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  proxy.stop = async () => {
    for (const s of sockets) s.destroy();
    agent.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return proxy;
}
