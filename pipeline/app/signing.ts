/**
 * The run's signer and verifier, made once from the configuration (none when signing is off). The local
 * profile's key is the local environment's own: made on first use when missing (never committed: out/).
 */
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Config } from '../config/config.ts';
import { generateLocalKey, LOCAL_PRIVATE_KEY, LOCAL_PUBLIC_KEY } from '../sign/local-key.ts';
import { makeSigner, makeVerifier } from '../sign/make.ts';
import type { SigningSettings } from '../sign/settings.ts';
import type { BundleVerifier } from '../sign/port.ts';
import type { Attesting, Signing } from '../stages/attest/stage.ts';
import { catalogDigest } from '../plan/plan-id.ts';
import type { ChannelSpec } from '../catalog/model.ts';
import type { Stores } from '../store/open.ts';
import { splitPlan } from './split-plan.ts';

/**
 * What a release run attests with: the signing, the catalog's digest, and the plan id provenance names (a
 * merge's, else computed as split jobs compute it, so a one-machine run's provenance says what a split run's does).
 */
export async function attestingFor(config: Config, run: { stores: Stores; channels: ChannelSpec[]; force: boolean; dryRun: boolean; merged?: { planId: string } }):
  Promise<Attesting | undefined> {
  if (run.dryRun) return undefined; // a plan attests nothing: no key, no KMS
  const signing = await signingFor(config);
  if (!signing) return undefined;
  const planId = run.merged?.planId ?? (await splitPlan(config, run.stores, run.channels.filter((c) => c.active), run.force)).planId;
  return { ...signing, catalogDigest: catalogDigest(config.root), planId };
}

export async function signingFor(config: Pick<Config, 'signing' | 'profile'>): Promise<Signing | undefined> {
  if (!config.signing) return undefined;
  if (config.profile === 'local') makeLocalKey(config.signing);
  return { signer: makeSigner(config.signing), verifier: await makeVerifier(config.signing) };
}

/** What checks the signatures the configuration's signer makes (none when signing is off); needs no private key. */
export async function verifierFor(config: Pick<Config, 'signing'>): Promise<BundleVerifier | undefined> {
  return config.signing ? makeVerifier(config.signing) : undefined;
}

function makeLocalKey(s: SigningSettings): void {
  if (s.kind !== 'key' || !s.privateKey || existsSync(s.privateKey)) return;
  const dir = dirname(s.privateKey);
  if (dirname(s.publicKey) === dir && basename(s.privateKey) === LOCAL_PRIVATE_KEY && basename(s.publicKey) === LOCAL_PUBLIC_KEY) generateLocalKey(dir);
}
