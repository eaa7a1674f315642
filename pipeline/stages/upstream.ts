/**
 * The pinned upstream base must be what the pin says before anything is built FROM it, or any run is
 * opened: its index is served by the registry, and each per-platform digest of the pin is the one that
 * index lists for that platform (a pin edited by hand, or written from another index, would build one
 * platform from an image the index does not name).
 */
import { relative } from 'node:path';
import { EksdError } from '../errors.ts';
import type { UpstreamPin } from '../catalog/model.ts';
import type { RegistryClient, ClientFactory } from '../registry/client.ts';
import { RegistryError } from '../registry/errors.ts';
import type { Manifest } from '../registry/manifests.ts';
import { platformDigests, platformMismatches, splitReference, type PlatformMismatch } from '../resolve/base.ts';

export async function checkUpstream(pin: UpstreamPin, clients: ClientFactory): Promise<void> {
  if (!pin.digest) return; // the plan says PIN_UNRESOLVED
  const { registry, repository } = splitReference(pin.reference);
  const client = clients(registry);
  const index = await pinnedIndex(client, repository, pin.digest, pin);
  const mismatches = platformMismatches(pin, await platformDigests(client, repository, index, `${registry}/${repository}@${pin.digest}`));
  if (mismatches.length > 0) throw mismatchError(pin, `${registry}/${repository}@${pin.digest}`, mismatches);
}

async function pinnedIndex(client: RegistryClient, repository: string, digest: string, pin: UpstreamPin): Promise<Manifest> {
  try {
    return await client.getManifest(repository, digest);
  } catch (e) {
    if (!(e instanceof RegistryError && e.status === 404)) throw e;
    throw new EksdError('PIN_NOT_FOUND', `the pinned upstream ${client.describe(repository, digest)} is not in the registry`, {
      where: pin.reference, hint: 'run `eksd watch-base --write` to pin what the registry serves now', cause: e,
    });
  }
}

function mismatchError(pin: UpstreamPin, index: string, mismatches: PlatformMismatch[]): EksdError {
  const file = relative(process.cwd(), pin.file) || pin.file;
  const each = mismatches.map((m) => `${m.platform}: the pin has ${m.pinned}, the index lists ${m.listed ?? 'no such platform'}`);
  return new EksdError('PIN_PLATFORM_MISMATCH', `${file}: the per-platform digests do not match the pinned index ${index}: ${each.join('; ')}`, {
    where: `${file} upstream.platforms.${mismatches[0]!.platform}`,
    hint: 'the pin was edited by hand or mixes two upstream revisions: run `eksd watch-base --write` to record the index and the digests it lists, '
      + 'or restore the pin file from version control',
  });
}
