/**
 * A Docker-registry token server for tests: RS256 JWTs signed with a fresh key whose self-signed
 * certificate is the registry's rootcertbundle. Grants the requested scopes when the request's Basic
 * credentials match (the password may be set later, e.g. to the fake ECR Public's password).
 *
 *   const ts = await startTokenServer({ username: 'AWS', password: 'secret' });
 *   const reg = await startRegistry({ auth: ts.registryAuth });
 *   ...
 *   await reg.stop(); await ts.stop();
 */
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TokenAuthConfig } from './registry.ts';

const run = promisify(execFile);

export interface GrantedScope { type: string; name: string; actions: string[] }

export interface TokenServerOptions {
  username: string;
  password?: string;
  service?: string;
  issuer?: string;
  /** Token lifetime in seconds (default 300). */
  expiresIn?: number;
  /** Narrows what is granted (default: everything requested). */
  grant?: (requested: GrantedScope[]) => GrantedScope[];
  /**
   * What a request without credentials gets (default: 401). ECR Public, for one, lets anyone pull:
   * `anonymous: pullOnly`.
   */
  anonymous?: (requested: GrantedScope[]) => GrantedScope[];
}

export interface TokenRequestRecord { scopes: string[]; user?: string; ok: boolean }

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  rootCertBundlePath: string;
  /** Pass to startRegistry({ auth }). */
  registryAuth: TokenAuthConfig;
  setPassword(password: string): void;
  /** Every token handed out (to check that none leaks into logs). */
  issued: string[];
  requests: TokenRequestRecord[];
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** The libtrust key id: base32 of the first 30 bytes of sha256(SPKI DER), groups of 4 joined by ':'. */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const bytes = createHash('sha256').update(der).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5), 2)];
  return out.match(/.{4}/g)!.join(':');
}

/** Keeps only the pull action of each requested scope (anonymous pulls, as ECR Public allows). */
export function pullOnly(requested: GrantedScope[]): GrantedScope[] {
  return requested.map((s) => ({ ...s, actions: s.actions.filter((a) => a === 'pull') })).filter((s) => s.actions.length > 0);
}

function parseScope(s: string): GrantedScope | undefined {
  const first = s.indexOf(':');
  const last = s.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return { type: s.slice(0, first), name: s.slice(first + 1, last), actions: s.slice(last + 1).split(',').filter(Boolean) };
}

function basicUser(req: IncomingMessage): { user: string; pass: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m?.[1]) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? undefined : { user: text.slice(0, i), pass: text.slice(i + 1) };
}

async function makeCert(dir: string, key: KeyObject): Promise<string> {
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  await writeFile(keyPath, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await run('openssl', ['req', '-x509', '-new', '-key', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=eksd-test-token', '-sha256']);
  return certPath;
}

/** Starts the token server on a free loopback port. */
export async function startTokenServer(o: TokenServerOptions): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), 'eksd-token-'));
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rootCertBundlePath = await makeCert(dir, createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })));
  const kid = libtrustKeyId(publicKey);
  const service = o.service ?? 'eksd-test-registry';
  const issuer = o.issuer ?? 'eksd-test-issuer';
  let password = o.password;
  const issued: string[] = [];
  const requests: TokenRequestRecord[] = [];

  const jwt = (user: string, access: GrantedScope[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub: user, aud: service, exp: now + (o.expiresIn ?? 300), nbf: now - 10, iat: now, jti: randomUUID(), access }));
    return `${header}.${claims}.${b64url(sign('sha256', Buffer.from(`${header}.${claims}`), privateKey))}`;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://token');
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    const creds = basicUser(req);
    const ok = creds !== undefined && password !== undefined && creds.user === o.username && creds.pass === password;
    requests.push({ scopes, ...(creds ? { user: creds.user } : {}), ok });
    const requested = scopes.map(parseScope).filter((s): s is GrantedScope => s !== undefined);
    if (url.pathname === '/token' && !creds && o.anonymous) {
      const token = jwt('', o.anonymous(requested));
      issued.push(token);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, access_token: token, expires_in: o.expiresIn ?? 300, issued_at: new Date().toISOString() }));
      return;
    }
    if (url.pathname !== '/token' || !ok) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="token"' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
      return;
    }
    const token = jwt(creds.user, o.grant ? o.grant(requested) : requested);
    issued.push(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: o.expiresIn ?? 300, issued_at: new Date().toISOString() }));
  };

  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const realm = `http://127.0.0.1:${port}/token`;
  return {
    realm, service, issuer, rootCertBundlePath, issued, requests,
    registryAuth: { tokenRealm: realm, service, issuer, rootCertBundlePath },
    setPassword: (p) => { password = p; },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
