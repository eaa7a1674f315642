/**
 * Production path: before the first push, every target repository exists in ECR Public with its
 * catalog data (description, architectures, operating systems). Existing repositories are left alone.
 */
import type { Config } from '../config/config.ts';
import type { Plan } from '../plan/plan.ts';
import { createEcrPublicClient, ecrArchitectures, ensureRepository } from '../aws/ecr-public.ts';

export async function ensureRepositories(config: Config, plan: Plan): Promise<void> {
  const client = createEcrPublicClient(config.aws.ecrPublicEndpoint ? { endpoint: config.aws.ecrPublicEndpoint } : {});
  for (const image of plan.images) {
    await ensureRepository({
      client,
      repositoryName: image.apiRepository,
      catalogData: {
        description: image.description,
        architectures: ecrArchitectures(image.platforms.map((p) => p.split('/')[1]!)),
        operatingSystems: ['Linux'],
      },
    });
  }
}
