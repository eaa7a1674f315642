/** The run's signer and verifier, made once from the configuration (none when signing is off). */
import type { Config } from '../config/config.ts';
import { makeSigner, makeVerifier } from '../sign/make.ts';
import type { Signing } from '../stages/attest/stage.ts';

export async function signingFor(config: Pick<Config, 'signing'>): Promise<Signing | undefined> {
  if (!config.signing) return undefined;
  return { signer: makeSigner(config.signing), verifier: await makeVerifier(config.signing) };
}
