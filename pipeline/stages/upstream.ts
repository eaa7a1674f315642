/** The pinned upstream base must be served by its registry before anything is built FROM it. */
import { EksdError } from '../errors.ts';
import type { Plan } from '../plan/plan.ts';
import type { RegistryClient } from '../registry/client.ts';

export async function checkUpstream(plan: Plan, clients: (registry: string) => RegistryClient): Promise<void> {
  const u = plan.upstream;
  const head = await clients(u.registry).headManifest(u.repository, u.digest);
  if (!head) {
    throw new EksdError('PIN_NOT_FOUND', `the pinned upstream ${u.registry}/${u.repository}@${u.digest} is not in the registry`, {
      where: u.reference, hint: 'run `eksd watch-base --write` to pin what the registry serves now',
    });
  }
}
