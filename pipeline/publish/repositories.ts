/**
 * Production path: before the first push, every target repository exists in ECR Public with its
 * catalog data (description, architectures, operating systems). Existing repositories are left alone.
 */
import type { Config } from '../config/config.ts';
import { createEcrPublicClient, ecrArchitectures, ensureRepository } from '../aws/ecr-public.ts';

export interface WantedRepository {
  /** Repository name as the ECR Public API knows it (without the registry alias). */
  name: string;
  description: string;
  /** amd64, arm64 */
  arches: string[];
}

export async function ensureRepositories(aws: Config['aws'], wanted: WantedRepository[], log: (line: string) => void = () => {}): Promise<void> {
  const client = createEcrPublicClient(aws.ecrPublicEndpoint ? { endpoint: aws.ecrPublicEndpoint } : {});
  for (const repo of wanted) {
    const r = await ensureRepository({ client, repositoryName: repo.name, catalogData: {
      description: repo.description, architectures: ecrArchitectures(repo.arches), operatingSystems: ['Linux'],
    } });
    if (r.created) log(`created ECR Public repository ${repo.name}`);
  }
}
