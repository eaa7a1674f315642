/**
 * Signing settings: the `signing:` object of the configuration, naming one of three signers (a local
 * ECDSA P-256 key, an AWS KMS key, or keyless Fulcio + Rekor) and what verifying its signatures needs.
 * Checked here field by field, so a bad setting stops before anything is signed.
 */
import { isAbsolute, resolve } from 'node:path';
import { EksdError } from '../errors.ts';

export type SigningSettings =
  /** privateKey: to sign; the public key alone verifies (an operator's `eksd verify`). */
  | { kind: 'key'; privateKey?: string; publicKey: string }
  | { kind: 'kms'; keyId: string; region: string; endpoint?: string; publicKey?: string }
  | { kind: 'keyless'; fulcioUrl: string; rekorUrl: string; identity: { issuer: string; subject: string }; trustedRoot: string };

type Fields = Record<string, unknown>;

const FIELDS: Record<SigningSettings['kind'], { required: string[]; optional: string[] }> = {
  key: { required: ['publicKey'], optional: ['privateKey'] },
  kms: { required: ['keyId', 'region'], optional: ['endpoint', 'publicKey'] },
  keyless: { required: ['fulcioUrl', 'rekorUrl', 'identity', 'trustedRoot'], optional: [] },
};

const HINTS: Record<SigningSettings['kind'], string> = {
  key: 'signing: { kind: key, privateKey: <PKCS#8 PEM path>, publicKey: <SPKI PEM path> } (the local profile makes its own key)',
  kms: 'signing: { kind: kms, keyId: <key id, ARN or alias/...>, region: <aws region>, endpoint?: <url>, publicKey?: <SPKI PEM path> }',
  keyless: 'signing: { kind: keyless, fulcioUrl: https://fulcio.sigstore.dev, rekorUrl: https://rekor.sigstore.dev, identity: { issuer, subject }, trustedRoot: <trusted_root.json path> }',
};

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;

/**
 * The signing settings of a configuration object's `signing:` value (undefined when absent). `where`
 * names the configuration source; relative paths resolve against `root` (the project root).
 */
export function parseSigningSettings(raw: unknown, where: string, root = process.cwd()): SigningSettings | undefined {
  if (raw === undefined || raw === null) return undefined;
  const bad = invalid(where);
  if (typeof raw !== 'object' || Array.isArray(raw)) bad('signing', 'must be an object with a kind (key, kms or keyless)', HINTS.key);
  const fields = raw as Fields;
  const kind = fields.kind;
  if (kind !== 'key' && kind !== 'kms' && kind !== 'keyless') {
    return bad('signing.kind', `${JSON.stringify(kind)} is not a signer; use key, kms or keyless`, HINTS.key);
  }
  checkFieldNames(fields, kind, bad);
  const path = (name: string): string => {
    const value = text(fields, name, bad, kind);
    return isAbsolute(value) ? value : resolve(root, value);
  };
  switch (kind) {
    case 'key':
      return { kind, ...(fields.privateKey !== undefined ? { privateKey: path('privateKey') } : {}), publicKey: path('publicKey') };
    case 'kms':
      return kmsSettings(fields, path, bad);
    case 'keyless':
      return {
        kind,
        fulcioUrl: url(fields, 'fulcioUrl', bad, kind),
        rekorUrl: url(fields, 'rekorUrl', bad, kind),
        identity: identityOf(fields.identity, bad),
        trustedRoot: path('trustedRoot'),
      };
  }
}

type Bad = (field: string, why: string, hint?: string) => never;

function invalid(where: string): Bad {
  return (field, why, hint) => {
    throw new EksdError('CONFIG_INVALID', `${field} ${why}`, { where: `${where} ${field}`, ...(hint ? { hint } : {}) });
  };
}

function checkFieldNames(fields: Fields, kind: SigningSettings['kind'], bad: Bad): void {
  const known = new Set(['kind', ...FIELDS[kind].required, ...FIELDS[kind].optional]);
  const unknown = Object.keys(fields).find((k) => !known.has(k));
  if (unknown !== undefined) bad(`signing.${unknown}`, `is not a setting of the ${kind} signer`, HINTS[kind]);
  const missing = FIELDS[kind].required.find((k) => fields[k] === undefined);
  if (missing !== undefined) bad(`signing.${missing}`, `is required by the ${kind} signer`, HINTS[kind]);
}

function text(fields: Fields, name: string, bad: Bad, kind: SigningSettings['kind']): string {
  const value = fields[name];
  if (typeof value !== 'string' || value.trim() === '') bad(`signing.${name}`, `must be a non-empty string, not ${JSON.stringify(value)}`, HINTS[kind]);
  return (value as string).trim();
}

function url(fields: Fields, name: string, bad: Bad, kind: SigningSettings['kind']): string {
  const value = text(fields, name, bad, kind);
  let parsed: URL | undefined;
  try { parsed = new URL(value); } catch { parsed = undefined; }
  if (!parsed) return bad(`signing.${name}`, `${JSON.stringify(value)} is not a URL`, HINTS[kind]);
  if (parsed.username || parsed.password) bad(`signing.${name}`, 'carries credentials', 'put no user or password in the URL');
  const loopbackHttp = parsed.protocol === 'http:' && LOOPBACK.test(parsed.hostname);
  if (parsed.protocol !== 'https:' && !loopbackHttp) bad(`signing.${name}`, `${JSON.stringify(value)} is not https`, 'use an https:// URL; plain http is allowed only for 127.0.0.1, localhost and [::1]');
  return value;
}

function kmsSettings(fields: Fields, path: (name: string) => string, bad: Bad): SigningSettings {
  const keyId = text(fields, 'keyId', bad, 'kms');
  if (/\s/.test(keyId)) bad('signing.keyId', `${JSON.stringify(keyId)} is not a KMS key id, ARN or alias`, HINTS.kms);
  const region = text(fields, 'region', bad, 'kms');
  if (!REGION.test(region)) bad('signing.region', `${JSON.stringify(region)} is not an AWS region`, 'e.g. us-west-2');
  return {
    kind: 'kms', keyId, region,
    ...(fields.endpoint !== undefined ? { endpoint: url(fields, 'endpoint', bad, 'kms') } : {}),
    ...(fields.publicKey !== undefined ? { publicKey: path('publicKey') } : {}),
  };
}

function identityOf(raw: unknown, bad: Bad): { issuer: string; subject: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return bad('signing.identity', 'must be an object { issuer, subject }', 'e.g. identity: { issuer: https://token.actions.githubusercontent.com, subject: https://github.com/<org>/<repo>/.github/workflows/release.yml@refs/heads/main }');
  }
  const fields = raw as Fields;
  const unknown = Object.keys(fields).find((k) => k !== 'issuer' && k !== 'subject');
  if (unknown !== undefined) bad(`signing.identity.${unknown}`, 'is not a setting of the identity (issuer, subject)');
  const field = (name: 'issuer' | 'subject'): string => {
    const value = fields[name];
    if (typeof value !== 'string' || value.trim() === '') bad(`signing.identity.${name}`, `must be a non-empty string, not ${JSON.stringify(value)}`, 'the OIDC issuer and the certificate subject (SAN) the signatures must carry');
    return (value as string).trim();
  };
  return { issuer: field('issuer'), subject: field('subject') };
}
