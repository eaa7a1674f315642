/** How configuration sources merge: a later source's value wins, key by key; env and flag strings coerced to the key's type. */

export function coerce(key: string, v: string): unknown {
  if (key === 'concurrency' || key === 'leaseSeconds' || key === 'aws.s3TimeoutSeconds') return /^\d+$/.test(v) ? Number(v) : v;
  if (key === 'aws.ecrPublic') return v === 'true';
  if (key === 'build.assemble') return ({ '1': true, true: true, '0': false, false: false } as Record<string, boolean>)[v] ?? v;
  return v;
}

export function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

export function deepMerge(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(from ?? {})) {
    if (v && typeof v === 'object' && !Array.isArray(v) && into[k] && typeof into[k] === 'object') {
      deepMerge(into[k] as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      into[k] = v;
    }
  }
}
