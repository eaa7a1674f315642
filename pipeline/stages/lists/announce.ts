/**
 * `eksd announce`'s stages, run through the one loop (app/loop.ts) under the channel's lease. ANNOUNCE:
 * the manifest given must be the one the site serves and points at, then it is verified, then announced
 * once (or again, on purpose). MARK_SENT: an interrupted send settled by hand, recorded as delivered and
 * nothing sent. A dry run only checks that the site serves it (or says what would be recorded).
 */
import type { AnnounceSettings } from '../../announce/release.ts';
import { markSent } from '../../announce/once.ts';
import type { ClientFactory } from '../../registry/client.ts';
import { assertServed, type GivenManifest, type Served } from '../../site/served.ts';
import type { VerifyReport } from '../../site/verify.ts';
import type { Stores } from '../../store/open.ts';
import { leaseOf, need, stage, type Stage } from '../stage.ts';
import { announce, announceDetail, type AnnounceOutcome } from '../announce.ts';
import { verifyDetail, verifyServed } from '../verify.ts';
import type { BundleVerifier } from '../../sign/port.ts';

export interface AnnounceEnv {
  given: GivenManifest;
  settings: AnnounceSettings;
  stores: Stores;
  clients: ClientFactory;
  /** Send again, though it was announced. */
  again: boolean;
  /** Checks the images' attestations too (signing configured). */
  verifier?: BundleVerifier;
}

export interface AnnounceOutputs {
  served: Served;
  verify: VerifyReport;
  announce: AnnounceOutcome;
}

export function announceStages(env: AnnounceEnv): Array<Stage<AnnounceOutputs, keyof AnnounceOutputs & string>> {
  const { settings, stores } = env;
  const release = (out: Partial<AnnounceOutputs>) => need(out, 'served').release;
  return [
    stage('served', () => assertServed(env.given, stores.site, settings.site.verifyUrl), { dry: true, opensRun: true, detail: (s) => `${s.where} is served` }),
    stage('verify', ({ out }) => verifyServed({ urls: settings.site, release: release(out), site: stores.site, clients: env.clients,
      ...(env.verifier ? { verifier: env.verifier } : {}) }),
      { detail: (r) => verifyDetail(r, settings.site.verifyUrl) }),
    stage('announce', ({ out, run }) => announce({ settings, stores, lease: leaseOf(run), release: release(out), ...(env.again ? { again: true } : {}) }),
      { detail: announceDetail }),
  ];
}

export interface MarkSentEnv {
  /** The release whose interrupted send is settled. */
  name: string;
  stores: Stores;
  /** Say what would be recorded, writing nothing. */
  dryRun: boolean;
}

export interface MarkSentOutputs {
  /** Whether the ledger changed (false: it already said sent). */
  'mark-sent': { changed: boolean };
}

export function markSentStages(env: MarkSentEnv): Array<Stage<MarkSentOutputs, 'mark-sent'>> {
  return [
    stage('mark-sent', async () => ({ changed: await markSent({ release: env.name, state: env.stores.state, dryRun: env.dryRun }) }), { dry: true, opensRun: true }),
  ];
}
