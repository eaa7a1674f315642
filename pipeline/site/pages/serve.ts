/**
 * `eksd site serve`: the site store over HTTP on loopback (127.0.0.1 only), for a person to look at
 * the pages as a browser gets them from the public site. Read-only: GET and HEAD; a path ending in `/`
 * serves its index.html.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EksdError } from '../../errors.ts';
import { contentType } from '../../store/content-type.ts';
import type { Store } from '../../store/store.ts';

export const LOOPBACK = '127.0.0.1';

export interface ServingSite { server: Server; url: string }

export async function serveSite(site: Store, port: number): Promise<ServingSite> {
  const server = createServer((req, res) => { answer(site, req, res).catch(() => send(res, 500, 'the site store could not be read')); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) => reject(new EksdError('SITE_SERVE', `cannot listen on ${LOOPBACK}:${port}: ${cause.code ?? cause.message}`, {
      where: `${LOOPBACK}:${port}`, hint: cause.code === 'EADDRINUSE' ? 'another program uses that port; give another with --port' : 'give another port with --port', cause,
    })));
    server.listen(port, LOOPBACK, () => resolve());
  });
  const address = server.address();
  return { server, url: `http://${LOOPBACK}:${typeof address === 'object' && address ? address.port : port}/` };
}

async function answer(site: Store, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') { send(res, 405, 'read-only: GET and HEAD'); return; }
  const key = keyOf(req.url ?? '/');
  const object = key === undefined ? undefined : await site.get(key).catch(() => undefined);
  if (!object || key === undefined) { send(res, 404, 'not in the site'); return; }
  res.writeHead(200, { 'content-type': contentType(key) ?? 'application/octet-stream', 'content-length': object.bytes.length, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : object.bytes);
}

/** The store key a request path names; undefined for one that leaves the site. */
export function keyOf(url: string): string | undefined {
  let path: string;
  try { path = decodeURIComponent(new URL(url, 'http://site').pathname); } catch { return undefined; }
  const key = (path.endsWith('/') ? `${path}index.html` : path).replace(/^\/+/, '');
  return key.split('/').some((s) => s === '..' || s === '.' || s === '') ? undefined : key;
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}
