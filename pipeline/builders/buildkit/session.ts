/**
 * A BuildKit session for builds through the Docker API. dockerd dials back over a hijacked `/session`
 * connection (h2c; dockerd is the gRPC client, we serve) to ask for registry credentials while it
 * resolves FROM images. Two services are served:
 *
 * - grpc.health.v1.Health/Check: BuildKit checks the session every second and drops it at the first
 *   failed check. dockerode's own session has no health service, so one second into a build the session
 *   is gone, and a FROM on a registry that answers with an auth challenge (ECR Public, any token
 *   registry) then waits 10 s for a session that never comes back and fails with "no active session".
 * - moby.filesync.v1.Auth/Credentials: the user name and secret for a registry host, or none
 *   (anonymous, e.g. public pulls from ECR Public).
 *
 * Everything else answers UNIMPLEMENTED, which BuildKit treats as "not offered".
 */
import type Docker from 'dockerode';
import { randomUUID } from 'node:crypto';
import { createServer, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { EksdError } from '../../errors.ts';

export interface RegistryLogin { username: string; password: string }
/** Credentials for a registry host ("127.0.0.1:5000", "public.ecr.aws"), undefined for anonymous. */
export type CredentialsForHost = (host: string) => Promise<RegistryLogin | undefined>;

export interface BuildSession {
  id: string;
  close(): void;
}

const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
const CREDENTIALS = '/moby.filesync.v1.Auth/Credentials';

/** Opens a session on the engine; pass its id as the build's `session` option, close it afterwards. */
export async function openSession(docker: Docker, credentials?: CredentialsForHost): Promise<BuildSession> {
  const id = randomUUID();
  const socket = await new Promise<Socket>((resolve, reject) => {
    docker.modem.dial({
      method: 'POST', path: '/session', hijack: true,
      headers: {
        Upgrade: 'h2c',
        'X-Docker-Expose-Session-Uuid': id,
        'X-Docker-Expose-Session-Name': 'eksd',
        'X-Docker-Expose-Session-Sharedkey': '',
        'X-Docker-Expose-Session-Grpc-Method': [HEALTH_CHECK, CREDENTIALS],
      },
      statusCodes: { 101: true, 200: true, 500: 'server error' },
    } as Parameters<typeof docker.modem.dial>[0], (err: Error | null, socket?: unknown) => {
      if (err || !socket) {
        reject(new EksdError('BUILD_SESSION', `cannot open a BuildKit session on the engine: ${err?.message ?? 'no connection'}`, {
          cause: err, hint: 'check that dockerd runs (eksd env status) and supports BuildKit (API 1.39 or later)',
        }));
      } else {
        resolve(socket as Socket);
      }
    });
  });
  const server: Http2Server = createServer();
  server.on('stream', (stream, headers) => {
    void serve(stream, String(headers[':path'] ?? ''), credentials).catch(() => stream.close());
  });
  server.on('sessionError', () => undefined);
  socket.on('error', () => undefined);
  server.emit('connection', socket);
  return {
    id,
    close: () => {
      server.close();
      socket.destroy();
    },
  };
}

async function serve(stream: ServerHttp2Stream, path: string, credentials: CredentialsForHost | undefined): Promise<void> {
  const request = await readMessage(stream);
  if (path === HEALTH_CHECK) return reply(stream, Buffer.from([0x08, 0x01])); // status: SERVING
  if (path === CREDENTIALS) {
    const host = decodeStringField(request, 1) ?? '';
    const login = await credentials?.(host).catch(() => undefined);
    return reply(stream, login ? Buffer.concat([stringField(1, login.username), stringField(2, login.password)]) : Buffer.alloc(0));
  }
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': `${path} is not offered` }, { endStream: true });
}

/** One unary response: the length-prefixed message, then the OK status in trailers. */
function reply(stream: ServerHttp2Stream, message: Buffer): void {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(frame);
}

/** The request message (unary: one length-prefixed, uncompressed message). */
async function readMessage(stream: ServerHttp2Stream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return body.length >= 5 ? body.subarray(5, 5 + body.readUInt32BE(1)) : Buffer.alloc(0);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
  return Buffer.from(out);
}

function stringField(field: number, value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

/** The first length-delimited field `field` of a protobuf message, as UTF-8. */
export function decodeStringField(message: Buffer, field: number): string | undefined {
  let pos = 0;
  const readVarint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= message.length) throw new RangeError('truncated varint');
      const b = message[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  };
  try {
    while (pos < message.length) {
      const key = readVarint();
      const wire = key & 7;
      if (wire === 0) { readVarint(); continue; }
      if (wire === 1) { pos += 8; continue; }
      if (wire === 5) { pos += 4; continue; }
      if (wire !== 2) return undefined;
      const len = readVarint();
      const value = message.subarray(pos, pos + len);
      pos += len;
      if (key >>> 3 === field) return value.toString('utf8');
    }
  } catch {
    return undefined;
  }
  return undefined;
}
