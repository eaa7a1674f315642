/**
 * An HTTP stand-in for AWS KMS speaking its JSON 1.1 protocol (POST /, X-Amz-Target TrentService.<Op>,
 * Content-Type application/x-amz-json-1.1, errors as `__type` documents), enough for Sign and
 * GetPublicKey on ECC_NIST_P256 SIGN_VERIFY keys it holds for real. Sign with MessageType DIGEST signs
 * the 32 bytes given as they are (raw ECDSA, written out below: node:crypto always hashes first), as KMS
 * does. Injectable faults: a connection dropped after the Nth request was handled (a lost reply), a 500
 * once, access denied for a key. Listens on 127.0.0.1 only.
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackStandIn } from './loopback-server.ts';

export interface KmsRequest { target: string; body: Record<string, unknown> }

interface HeldKey { id: string; arn: string; privateKey: KeyObject; publicKey: KeyObject; d: bigint }

class KmsError extends Error {
  constructor(readonly status: number, readonly type: string, message: string) { super(message); }
}

export class FakeKms extends LoopbackStandIn {
  /** every request, in order, whatever was answered */
  readonly requests: KmsRequest[] = [];
  private readonly keys = new Map<string, HeldKey>();
  private readonly denied = new Set<string>();
  private dropAt = new Set<number>();
  private serverErrors = 0;

  constructor(readonly region = 'us-west-2', readonly account = '111122223333') { super(); }

  /** A new P-256 signing key; returns its key id. */
  createKey(): string {
    const id = randomUUID();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const d = BigInt(`0x${Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url').toString('hex')}`);
    this.keys.set(id, { id, arn: `arn:aws:kms:${this.region}:${this.account}:key/${id}`, privateKey, publicKey, d });
    return id;
  }

  publicKeyPem(keyId: string): string {
    return this.key(keyId).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** Requests for `keyId` are refused with AccessDeniedException. */
  deny(keyId: string): void { this.denied.add(keyId); }

  /** The Nth request from now (1 = the next) is handled, then its connection closed without a reply. */
  dropRequest(n: number): void { this.dropAt.add(this.requests.length + n); }

  /** The next request is answered 500 KMSInternalException without being handled. */
  failOnce(): void { this.serverErrors++; }

  count(target: string): number { return this.requests.filter((r) => r.target === target).length; }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    let body: Record<string, unknown> = {};
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'); } catch { /* answered below */ }
    this.requests.push({ target, body });
    const number = this.requests.length;
    try {
      if (this.serverErrors > 0) { this.serverErrors--; throw new KmsError(500, 'KMSInternalException', 'An internal error occurred.'); }
      const reply = this.answer(req, target, body);
      if (this.dropAt.delete(number)) { req.socket.destroy(); return; }
      send(res, 200, reply);
    } catch (e) {
      const err = e instanceof KmsError ? e : new KmsError(500, 'KMSInternalException', String(e));
      send(res, err.status, { __type: err.type, message: err.message });
    }
  }

  private answer(req: IncomingMessage, target: string, body: Record<string, unknown>): object {
    if (req.method !== 'POST' || req.headers['content-type'] !== 'application/x-amz-json-1.1') {
      throw new KmsError(400, 'SerializationException', 'expected POST with Content-Type application/x-amz-json-1.1');
    }
    if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
      throw new KmsError(400, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    switch (target) {
      case 'TrentService.Sign': return this.sign(body);
      case 'TrentService.GetPublicKey': return this.getPublicKey(body);
      default: throw new KmsError(400, 'UnknownOperationException', `unknown operation ${target}`);
    }
  }

  private lookup(body: Record<string, unknown>, action: string): HeldKey {
    const keyId = body.KeyId;
    if (typeof keyId !== 'string' || keyId === '') throw new KmsError(400, 'ValidationException', "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    const held = [...this.keys.values()].find((k) => k.id === keyId || k.arn === keyId);
    if (!held) throw new KmsError(400, 'NotFoundException', `Key '${keyId.startsWith('arn:') ? keyId : `arn:aws:kms:${this.region}:${this.account}:key/${keyId}`}' does not exist`);
    if (this.denied.has(held.id)) throw new KmsError(400, 'AccessDeniedException', `User: arn:aws:sts::${this.account}:assumed-role/release is not authorized to perform: kms:${action} on resource: ${held.arn} because no identity-based policy allows the kms:${action} action`);
    return held;
  }

  private key(keyId: string): HeldKey {
    const held = this.keys.get(keyId);
    if (!held) throw new Error(`no key ${keyId}`);
    return held;
  }

  private sign(body: Record<string, unknown>): object {
    const held = this.lookup(body, 'Sign');
    if (body.SigningAlgorithm !== 'ECDSA_SHA_256') throw new KmsError(400, 'InvalidKeyUsageException', `You cannot use ${String(body.SigningAlgorithm)} with this key`);
    const message = Buffer.from(String(body.Message ?? ''), 'base64');
    const type = body.MessageType ?? 'RAW';
    if (type === 'DIGEST' && message.length !== 32) throw new KmsError(400, 'ValidationException', 'Digest is invalid length for algorithm ECDSA_SHA_256.');
    if (type !== 'DIGEST' && (type !== 'RAW' || message.length === 0 || message.length > 4096)) throw new KmsError(400, 'ValidationException', `invalid MessageType ${String(type)} or message length ${message.length}`);
    const digest = type === 'DIGEST' ? message : createHash('sha256').update(message).digest();
    return { KeyId: held.arn, Signature: ecdsaSign(held.d, digest).toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' };
  }

  private getPublicKey(body: Record<string, unknown>): object {
    const held = this.lookup(body, 'GetPublicKey');
    return {
      KeyId: held.arn,
      PublicKey: held.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      KeySpec: 'ECC_NIST_P256', CustomerMasterKeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY',
      SigningAlgorithms: ['ECDSA_SHA_256'],
    };
  }
}

function send(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
  res.end(JSON.stringify(body));
}

// ECDSA over P-256 on a given digest (FIPS 186-4), in affine coordinates.
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const G: Point = [0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n, 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n];
type Point = [bigint, bigint] | null;

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
  }
  return mod(s0, m);
}

function add(p1: Point, p2: Point): Point {
  if (!p1) return p2;
  if (!p2) return p1;
  const [x1, y1] = p1;
  const [x2, y2] = p2;
  if (x1 === x2 && mod(y1 + y2, P) === 0n) return null;
  const slope = x1 === x2 && y1 === y2
    ? mod((3n * x1 * x1 - 3n) * inverse(2n * y1, P), P)
    : mod((y2 - y1) * inverse(x2 - x1, P), P);
  const x3 = mod(slope * slope - x1 - x2, P);
  return [x3, mod(slope * (x1 - x3) - y1, P)];
}

function multiply(k: bigint, point: Point): Point {
  let result: Point = null;
  let addend = point;
  for (let n = k; n > 0n; n >>= 1n) {
    if (n & 1n) result = add(result, addend);
    addend = add(addend, addend);
  }
  return result;
}

/** A DER ECDSA signature of `digest` (32 bytes) with private scalar d. */
function ecdsaSign(d: bigint, digest: Buffer): Buffer {
  const z = BigInt(`0x${digest.toString('hex')}`);
  for (;;) {
    const k = mod(BigInt(`0x${randomBytes(40).toString('hex')}`), N - 1n) + 1n;
    const r = mod(multiply(k, G)![0], N);
    const s = mod(inverse(k, N) * (z + r * d), N);
    if (r !== 0n && s !== 0n) return derSignature(r, s);
  }
}

function derSignature(r: bigint, s: bigint): Buffer {
  const integer = (v: bigint): Buffer => {
    let bytes = Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
    while (bytes.length > 1 && bytes[0] === 0 && bytes[1]! < 0x80) bytes = bytes.subarray(1);
    if (bytes[0]! >= 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
  };
  const body = Buffer.concat([integer(r), integer(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}
