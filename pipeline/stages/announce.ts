/** The announcement of a verified release: once, through the ledger, while the run holds the lease. */
import type { Config } from '../config/config.ts';
import type { Release } from '../release/types.ts';
import type { Stores } from '../store/open.ts';
import type { Lease } from '../store/lease.ts';
import { announceRelease } from '../announce/release.ts';
import type { PublishedImage } from './images/published.ts';
import { imageReasons } from './release.ts';

export interface AnnounceOutcome { messageId: string; skipped: boolean; via: string; resend?: number }

export interface AnnounceInput { config: Config; stores: Stores; lease: Lease; release: Release; images?: PublishedImage[]; republish?: boolean }

export async function announce(input: AnnounceInput): Promise<AnnounceOutcome> {
  const reasons = imageReasons(input.images ?? []);
  const sent = await announceRelease(input.config, input.stores, input.lease, input.release,
    input.republish ? { republish: true, again: true } : { reasons });
  return { messageId: sent.messageId, skipped: sent.skipped, via: sent.via, ...(input.republish ? { resend: sent.resend } : {}) };
}

export function announceDetail(a: AnnounceOutcome): string {
  return `${a.skipped ? 'already announced' : 'sent'} via ${a.via} (${a.messageId})`;
}
