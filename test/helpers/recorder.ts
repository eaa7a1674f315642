/**
 * A recording forward proxy on loopback: every request line that passes ("PUT /v2/.../blobs/uploads/..."),
 * so a test or a benchmark can tell uploads apart by repository and digest, which the counting fault
 * proxy (counts by kind only) cannot.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorder {
  host: string;
  /** "METHOD /path?query" of every request, in arrival order; clear it with `lines.length = 0`. */
  lines: string[];
  stop(): Promise<void>;
}

export async function startRecorder(target: string): Promise<Recorder> {
  const lines: string[] = [];
  const [hostname, port] = target.split(':') as [string, string];
  let host = '';
  const server: Server = createServer((req, res) => {
    lines.push(`${req.method} ${req.url}`);
    const up = request({ host: hostname, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      const headers = { ...upRes.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`//${target}`, `//${host}`);
      res.writeHead(upRes.statusCode ?? 502, headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, lines, stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

/** The paths of the blob upload PUTs among the recorded lines. */
export function uploadPaths(lines: string[]): string[] {
  return lines.filter((l) => l.startsWith('PUT ') && l.includes('/blobs/uploads/')).map((l) => l.slice('PUT '.length));
}
