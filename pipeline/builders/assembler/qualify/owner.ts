/** An owner as BuildKit reads it without the image's /etc/passwd and /etc/group: numeric ids only. */
import type { Owner } from '../recipe.ts';

/** "uid[:gid]" (gid = uid when absent); undefined for anything with a name. */
export function numericOwner(value: string): Owner | undefined {
  const m = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!m) return undefined;
  const uid = Number(m[1]);
  return { uid, gid: m[2] === undefined ? uid : Number(m[2]) };
}
