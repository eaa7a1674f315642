/**
 * `eksd announce`: a release the site serves, verified and announced once (or again, on purpose), or an
 * interrupted send settled by hand (--mark-sent). Each runs its stage list (stages/lists/announce.ts)
 * through the loop, which holds the channel's lease. The ledger that keeps a send to one must be where
 * releases record it, on a store that honours conditional writes: both are checked first.
 */
import { verifierFor } from './signing.ts';
import type { Config } from '../config/config.ts';
import { announcementOf } from '../announce/release.ts';
import type { Announcement } from '../announce/types.ts';
import { readRelease } from '../site/site.ts';
import { readGiven } from '../site/served.ts';
import { refuseStateInSite } from '../store/legacy-state.ts';
import { openStores, type Stores } from '../store/open.ts';
import { proveConditionalWrites } from '../store/probe.ts';
import type { AnnounceOutcome } from '../stages/announce.ts';
import type { Emit } from '../stages/events.ts';
import { need } from '../stages/stage.ts';
import { announceStages, markSentStages } from '../stages/lists/announce.ts';
import { registryClients } from './clients.ts';
import { runStages, type LeaseRequest } from './loop.ts';
import type { StopRequest } from './stop.ts';

export interface AnnounceOptions {
  config: Config;
  /** A release name, a manifest file or a URL. */
  ref: string;
  dryRun: boolean;
  /** Progress, and warnings (a lease not released). */
  emit: Emit;
  stop?: StopRequest;
}

export type AnnounceResult =
  | { state: 'dry-run'; announcement: Announcement }
  | { state: 'sent'; name: string; sent: AnnounceOutcome };

/** The release the site serves, verified, announced once (`again`: even though it was). */
export async function announceServed(o: AnnounceOptions & { again: boolean }): Promise<AnnounceResult> {
  const { config } = o;
  const stores = await ledgerStores(config, o.dryRun);
  const given = await readGiven(o.ref, stores.site);
  const verifier = await verifierFor(config);
  const { out, end } = await runStages(announceStages({ given, settings: config, stores, clients: registryClients(config), again: o.again, ...(verifier ? { verifier } : {}) }), {
    emit: o.emit, dryRun: o.dryRun, ...(o.stop ? { stop: o.stop } : {}), lease: leaseFor(config, stores, given.release.spec.channel, `eksd announce ${o.ref}`),
  });
  const served = need(out, 'served');
  if (end.by === 'dry-run') return { state: 'dry-run', announcement: await announcementOf(config, stores, served.release) };
  return { state: 'sent', name: served.release.metadata.name, sent: need(out, 'announce') };
}

/** Records an interrupted send of the release as delivered, sending nothing; `changed` is false when it already was. */
export async function markAnnounced(o: AnnounceOptions): Promise<{ name: string; changed: boolean }> {
  const { config } = o;
  const stores = await ledgerStores(config, o.dryRun);
  const release = await readRelease(o.ref, { site: stores.site, ...(config.profile === 'local' ? {} : { siteBaseUrl: config.site.baseUrl }) });
  const name = release.metadata.name;
  const { out } = await runStages(markSentStages({ name, stores, dryRun: o.dryRun }), {
    emit: o.emit, dryRun: o.dryRun, ...(o.stop ? { stop: o.stop } : {}), lease: leaseFor(config, stores, release.spec.channel, `eksd announce ${name} --mark-sent`),
  });
  return { name, changed: need(out, 'mark-sent').changed };
}

async function ledgerStores(config: Config, dryRun: boolean): Promise<Stores> {
  const stores = await openStores(config);
  await refuseStateInSite(config, stores);
  if (!dryRun) await proveConditionalWrites(stores.state);
  return stores;
}

function leaseFor(config: Config, stores: Stores, channel: string, command: string): LeaseRequest {
  return { store: stores.state, channel, command, ttlSeconds: config.leaseSeconds };
}
