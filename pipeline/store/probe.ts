/**
 * Proof that the state store honours create-only writes before a run relies on them: the lease and the
 * announcement ledger are exactly-once only because a second `If-None-Match: *` write of a key fails. An
 * S3-compatible endpoint that ignores conditional headers would accept both, silently; this finds out
 * with a probe object written twice (the second write must fail), and refuses to run otherwise. A
 * directory store makes its conditions itself, on this machine: it is not probed.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { EksdError } from '../errors.ts';
import { isPrecondition, type Store } from './store.ts';

export async function proveConditionalWrites(store: Store): Promise<void> {
  if (store.local) return;
  const key = `probes/${randomUUID()}.json`;
  const body = `${JSON.stringify({ probe: 'create-only writes are honoured', host: hostname(), pid: process.pid, at: new Date().toISOString() })}\n`;
  const etag = await store.put(key, body, { ifNoneMatch: true });
  let ignored: string | undefined;
  try {
    if (await accepted(() => store.put(key, body, { ifNoneMatch: true }))) ignored = 'a second create-only write (If-None-Match: *)';
    else if (await accepted(() => store.put(key, body, { ifMatch: `"not-${etag.replace(/"/g, '')}"` }))) ignored = 'a write under another version (If-Match)';
  } finally {
    await store.delete(key).catch(() => undefined); // a probe left behind is harmless
  }
  if (ignored) {
    throw new EksdError('STORE_CONDITIONS_IGNORED', `the state store accepted ${ignored} of ${store.where(key)}`, {
      where: store.where(key),
      hint: 'it ignores conditional writes, on which the lease and the announcement ledger rely to release and announce once; nothing was released: use Amazon S3, or an S3-compatible endpoint that answers 412 to a failed If-None-Match or If-Match',
    });
  }
}

/** Whether a conditional write that must fail went through. */
async function accepted(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (e) {
    if (!isPrecondition(e)) throw e;
    return false;
  }
}
