/**
 * Announcing a release, one way for every caller (the release run, `eksd announce`, `eksd republish
 * --announce`): the message rendered against the channel's previous release, the Announcer the
 * configuration asks for (SNS in production, the outbox locally), sent through the ledger while the
 * caller still holds the channel's lease.
 */
import { attestationsPath, parseAttestations } from '../release/attestations.ts';
import { getText } from '../store/store.ts';
import type { Config } from '../config/config.ts';
import { announceOnce, type AnnounceOnceResult } from '../announce/once.ts';
import { OutboxAnnouncer } from '../announce/outbox.ts';
import { renderAnnouncement } from '../announce/render.ts';
import type { Announcement, Announcer } from '../announce/types.ts';
import { manifestUrl } from '../release/naming.ts';
import { previousRelease } from '../site/site.ts';
import type { Release } from '../release/types.ts';
import type { Stores } from '../store/open.ts';
import type { Lease } from '../store/lease.ts';

/** What announcing reads of the configuration: the announcer, the SNS endpoint, the site's URL. */
export type AnnounceSettings = Pick<Config, 'announce' | 'aws' | 'site'>;

/** The AWS SDK is loaded only for SNS. */
export async function announcerFor(config: AnnounceSettings): Promise<Announcer> {
  const topicArn = config.announce.topicArn;
  if (config.announce.kind === 'sns' && topicArn) {
    const { SnsAnnouncer } = await import('../announce/sns.ts');
    return new SnsAnnouncer({ topicArn, ...(config.aws.snsEndpoint ? { endpoint: config.aws.snsEndpoint } : {}) });
  }
  return new OutboxAnnouncer(config.announce.dir!, topicArn ? { topicArn } : {});
}

export interface AnnounceOptions {
  /** why images changed, by asset name (the release run knows; others read it from the manifests) */
  reasons?: Record<string, string>;
  republish?: boolean;
  /** a deliberate resend */
  again?: boolean;
}

/** The announcement of `release`, compared with the channel's previous release. */
export async function announcementOf(config: AnnounceSettings, stores: Stores, release: Release, o: AnnounceOptions = {}): Promise<Announcement> {
  const { channel, number } = release.spec;
  const previous = await previousRelease(stores.site, channel, number);
  const attested = await getText(stores.site, attestationsPath(channel, number));
  const attestations = attested === undefined ? undefined : parseAttestations(attested);
  return renderAnnouncement(release, { manifestUrl: manifestUrl(config.site.baseUrl, channel, number), ...(attestations ? { attestations } : {}),
    ...(o.reasons ? { reasons: o.reasons } : {}), ...(o.republish ? { republish: true } : {}), ...(previous ? { previous } : {}) });
}

/** Sends the announcement of a verified release once (see announce/once.ts), if this caller still holds the lease. */
export async function announceRelease(config: AnnounceSettings, stores: Stores, lease: Lease, release: Release,
  o: AnnounceOptions = {}): Promise<AnnounceOnceResult & { via: string }> {
  return sendOnce(config, stores, lease, await announcementOf(config, stores, release, o), o.again === true);
}

/** Sends an announcement once under its ledger name, through the configured announcer, while the lease is held. */
export async function sendOnce(config: AnnounceSettings, stores: Stores, lease: Lease, announcement: Announcement, again = false): Promise<AnnounceOnceResult & { via: string }> {
  const announcer = await announcerFor(config);
  lease.assertHeld();
  const sent = await announceOnce({ release: announcement.release, announcement, announcer, state: stores.state, ...(again ? { again: true } : {}) });
  return { ...sent, via: announcer.describe() };
}
