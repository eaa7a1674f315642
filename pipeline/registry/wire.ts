/**
 * One HTTP exchange with a registry over Node's own http and https clients, bodies as Node streams end to
 * end. Written here rather than through fetch because fetch turns every body into a web stream: copying a
 * 56 MiB index between two registries cost 740 ms of CPU in undici's body pumps and web streams, against
 * 320 ms for skopeo, on a copy that is CPU-bound (bench:copy); the same blobs piped as Node streams cost
 * 130-200 ms. What fetch did besides is kept: keep-alive connections, redirects of GET and HEAD (a registry
 * may send blobs from a CDN; Authorization is not carried to another origin), an AbortSignal.
 */
import http from 'node:http';
import https from 'node:https';
import { Transform, type Readable } from 'node:stream';
import { through } from '../util/streams.ts';

export type BodySource = Uint8Array | Readable;

export interface WireRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: BodySource;
  signal: AbortSignal;
}

/** A registry's answer: the status, the headers, and the body as a Node stream. */
export interface Reply {
  status: number;
  headers: Headers;
  body: Readable;
  /** The whole body (drains the stream). */
  arrayBuffer(): Promise<Buffer>;
  text(): Promise<string>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

/** A redirect the request follows: any of a GET or HEAD; 307 and 308 also of a request whose body can be sent again. */
function follows(r: WireRequest, status: number): boolean {
  if (!REDIRECTS.has(status)) return false;
  if (r.method === 'GET' || r.method === 'HEAD') return true;
  return (status === 307 || status === 308) && (r.body === undefined || r.body instanceof Uint8Array);
}

/**
 * Keep-alive agents, one pair per client: connections to a registry are reused across its requests, and a
 * connection idle for 4 s is closed (as undici did), before a server's own idle timeout can close it under a
 * request.
 */
export class Wire {
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, timeout: 4_000 }),
    'https:': new https.Agent({ keepAlive: true, timeout: 4_000 }),
  };

  /** Sends the request, following redirects (`follows`); rejects with the signal's reason once aborted. */
  async send(r: WireRequest): Promise<Reply> {
    let reply = await this.once(r);
    for (let hops = 0; follows(r, reply.status); hops++) {
      const location = reply.headers.get('location');
      if (!location || hops >= MAX_REDIRECTS) return reply;
      reply.body.resume();
      const url = new URL(location, r.url);
      const headers = { ...r.headers };
      if (url.origin !== r.url.origin) delete headers.authorization;
      r = { ...r, url, headers };
      reply = await this.once(r);
    }
    return reply;
  }

  private once(r: WireRequest): Promise<Reply> {
    const headers = { ...r.headers };
    if (r.body instanceof Uint8Array) headers['content-length'] ??= String(r.body.byteLength);
    const client = r.url.protocol === 'https:' ? https : http;
    const agent = this.agents[r.url.protocol === 'https:' ? 'https:' : 'http:'];
    // A stream body is closed with its request: a failed attempt leaves no file open and no source GET paused.
    const drop = (): void => { if (r.body && !(r.body instanceof Uint8Array)) r.body.destroy(); };
    return new Promise<Reply>((resolve, reject) => {
      if (r.signal.aborted) { drop(); reject(r.signal.reason); return; }
      const req = client.request(r.url, { method: r.method, headers, agent });
      let res: http.IncomingMessage | undefined;
      // Past the answer, an abort (the watchdog) also ends the body the consumer reads, with its reason.
      const abort = (): void => { const why = r.signal.reason as Error; res?.destroy(why); req.destroy(why); };
      r.signal.addEventListener('abort', abort, { once: true });
      req.on('error', (e) => {
        drop();
        if (!res) r.signal.removeEventListener('abort', abort);
        reject(r.signal.aborted ? r.signal.reason : e);
      });
      let stopSending: (() => void) | undefined;
      req.on('response', (answer) => {
        res = answer;
        answer.on('close', () => r.signal.removeEventListener('abort', abort));
        if (stopSending && !req.writableEnded && (answer.statusCode ?? 0) >= 300) {
          // Refused before the body was all sent (401, 400): no more of it is read or sent, and the
          // connection, left in the middle of a request, is closed once the answer has been read.
          stopSending();
          answer.once('close', () => req.destroy());
        }
        resolve(reply(answer));
      });
      if (r.body === undefined) req.end();
      else if (r.body instanceof Uint8Array) req.end(r.body);
      else {
        // A body that fails (a digest check at its end, a length) ends the request with its own error
        // (stream.pipeline would abort the request, and the error seen would be a hang-up).
        const body = headers['content-length'] === undefined ? r.body : ofLength(r.body, Number(headers['content-length']));
        let stopped = false;
        body.on('error', (e) => { if (!stopped) req.destroy(e); });
        body.pipe(req);
        stopSending = () => { stopped = true; body.unpipe(req); drop(); };
      }
    });
  }
}

/** The stream, failing as soon as it is longer than `length` or ends shorter: the server would wait for the rest. */
function ofLength(body: Readable, length: number): Readable {
  let seen = 0;
  return through(body, new Transform({
    transform(c: Buffer, _e, callback) {
      seen += c.byteLength;
      callback(seen > length ? new Error(`the body is longer than its Content-Length of ${length} bytes`) : null, c);
    },
    flush(callback) {
      callback(seen < length ? new Error(`the body ended after ${seen} of its ${length} bytes (Content-Length)`) : null);
    },
  }));
}

function reply(res: http.IncomingMessage): Reply {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  const arrayBuffer = async (): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  return { status: res.statusCode ?? 0, headers, body: res, arrayBuffer, text: async () => (await arrayBuffer()).toString('utf8') };
}
