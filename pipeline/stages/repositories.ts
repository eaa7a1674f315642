/** ECR Public needs a repository to exist before a push: create the missing ones (nothing to do elsewhere). */
import type { Config } from '../config/config.ts';
import { EksdError } from '../errors.ts';
import { ECR_PUBLIC_REGISTRY, ecrPublicHost } from '../aws/constants.ts';
import type { Plan } from '../plan/plan.ts';
import type { WantedRepository } from '../publish/repositories.ts';
import type { Location, ReleaseImage } from './republish/locate.ts';

/** How many repositories were checked (0 when the target is not ECR Public). */
export async function ensureImageRepositories(aws: Config['aws'], registry: string, wanted: () => WantedRepository[], log: (line: string) => void): Promise<number> {
  if (!aws.ecrPublic || registry !== ecrPublicHost(aws)) return 0;
  const list = wanted();
  const { ensureRepositories } = await import('../publish/repositories.ts');
  await ensureRepositories(aws, list, log);
  return list.length;
}

/** The repositories of a release's plan, by the name the ECR Public API knows. */
export function planRepositories(plan: Plan): WantedRepository[] {
  return plan.images.map((i) => ({ name: i.apiRepository, description: i.description, arches: i.platforms.map((p) => p.split('/')[1]!) }));
}

/** The repositories a republish to `target` writes: public.ecr.aws/<alias>/<name>, the first namespace folder being the alias. */
export function republishRepositories(target: Location, images: ReleaseImage[]): WantedRepository[] {
  if (!target.namespace) {
    throw new EksdError('USAGE', `--to ${ECR_PUBLIC_REGISTRY} needs the registry alias`, { where: '--to', hint: `e.g. --to ${ECR_PUBLIC_REGISTRY}/my-alias` });
  }
  const [, ...below] = target.namespace.split('/');
  return images.map((image) => ({ name: [...below, image.rel].join('/'), description: image.description, arches: image.arch }));
}
