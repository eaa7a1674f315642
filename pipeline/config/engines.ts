/**
 * Docker engines per platform, as configured: `engines: { linux/arm64: tcp://arm-builder:2376 }` or, with
 * TLS client certificates as Docker contexts keep them (ca.pem, cert.pem, key.pem in one folder),
 * `{ host: tcp://arm-builder:2376, certPath: /certs/arm }`. EKSD_ENGINE_AMD64 / EKSD_ENGINE_ARM64 name one.
 */
import type { Platform } from './platform.ts';

export interface EngineSetting { host: string; certPath?: string }

export function enginesOf(raw: unknown, abs: (path: string) => string): Partial<Record<Platform, EngineSetting>> {
  const out: Partial<Record<Platform, EngineSetting>> = {};
  for (const [platform, value] of Object.entries((raw ?? {}) as Record<string, string | EngineSetting>)) {
    const e = typeof value === 'string' ? { host: value } : value;
    out[platform as Platform] = { host: e.host, ...(e.certPath ? { certPath: abs(e.certPath) } : {}) };
  }
  return out;
}
