/**
 * The keyless signer: @sigstore/sign's FulcioSigner (an ephemeral key, certified by Fulcio for the CI's
 * OIDC identity: the GitHub Actions token with audience sigstore, or SIGSTORE_ID_TOKEN) and RekorWitness
 * (the signature logged in Rekor). Needs `permissions: id-token: write` on GitHub Actions. Nothing goes
 * over the network until a statement is signed.
 */
import { CIContextProvider, FulcioSigner, RekorWitness } from '@sigstore/sign';
import { EksdError } from '../errors.ts';
import { bundleStatement } from './bundle.ts';
import type { Signer } from './port.ts';

export interface KeylessSettings { fulcioUrl: string; rekorUrl: string; identity: { issuer: string; subject: string } }

export function keylessSigner(s: KeylessSettings): Signer {
  const signer = new FulcioSigner({ identityProvider: new CIContextProvider('sigstore'), fulcioBaseURL: s.fulcioUrl });
  const witness = new RekorWitness({ rekorBaseURL: s.rekorUrl });
  const describe = `keyless (Fulcio ${s.fulcioUrl}, Rekor ${s.rekorUrl}) as ${s.identity.subject}`;
  return {
    describe,
    signStatement: async (statement) => {
      try {
        return await bundleStatement(signer, [witness], statement);
      } catch (e) {
        throw new EksdError('SIGN_FAILED', `keyless signing failed: ${messageOf(e)}`, {
          where: `${s.fulcioUrl} ${s.rekorUrl}`,
          hint: 'on GitHub Actions give the job the id-token permission with write access (the workflow permissions block); elsewhere set SIGSTORE_ID_TOKEN; check that Fulcio and Rekor are reachable',
          cause: e,
        });
      }
    },
  };
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
