/** The announcement of a verified release: once, through the ledger, while the run holds the lease. */
import type { Release } from '../release/types.ts';
import type { Stores } from '../store/open.ts';
import type { Lease } from '../store/lease.ts';
import { announceRelease, type AnnounceSettings } from '../announce/release.ts';
import type { PublishedImage } from './images/published.ts';
import { imageReasons } from './release.ts';

export interface AnnounceOutcome { messageId: string; skipped: boolean; via: string; resend?: number }

export interface AnnounceInput {
  settings: AnnounceSettings;
  stores: Stores;
  lease: Lease;
  release: Release;
  /** The release run's images, which say why each one changed (others read it from the manifests). */
  images?: PublishedImage[];
  /** A republish's announcement, sent again on purpose. */
  republish?: boolean;
  /** A deliberate resend (`eksd announce --again`). */
  again?: boolean;
}

export async function announce(input: AnnounceInput): Promise<AnnounceOutcome> {
  const sent = await announceRelease(input.settings, input.stores, input.lease, input.release, options(input));
  return { messageId: sent.messageId, skipped: sent.skipped, via: sent.via, ...(input.republish ? { resend: sent.resend } : {}) };
}

function options(input: AnnounceInput) {
  if (input.republish) return { republish: true, again: true };
  return { ...(input.images ? { reasons: imageReasons(input.images) } : {}), ...(input.again ? { again: true } : {}) };
}

export function announceDetail(a: AnnounceOutcome): string {
  return `${a.skipped ? 'already announced' : 'sent'} via ${a.via} (${a.messageId})`;
}
