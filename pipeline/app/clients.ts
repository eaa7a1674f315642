/**
 * One registry client per registry host for a run, with the right credentials: ECR Public tokens for
 * the ECR Public host alone (public.ecr.aws) when the profile says so, a Docker config.json entry for
 * any other host that has one, else anonymous. A mirror or a custom image repository never receives an
 * ECR token.
 */
import { existsSync } from 'node:fs';
import type { Config } from '../config/config.ts';
import { RegistryClient, type ClientFactory } from '../registry/client.ts';
import { ecrPublicHost } from '../aws/constants.ts';
import { defaultDockerConfigPath, dockerConfigCredentials } from '../registry/credentials.ts';
import type { CredentialSource } from '../registry/credentials.ts';

export function registryClients(config: Config, log?: (line: string) => void): ClientFactory {
  const clients = new Map<string, RegistryClient>();
  return (registry: string) => {
    let client = clients.get(registry);
    if (!client) {
      const credentials = credentialsFor(config, registry);
      client = new RegistryClient({ registry, ...(credentials ? { credentials } : {}), ...(log ? { log } : {}) });
      clients.set(registry, client);
    }
    return client;
  };
}

/** With aws.ecrPublic, the ECR Public host (aws.ecrPublicRegistry) gets ECR Public tokens; no other host does. */
function credentialsFor(config: Config, registry: string): CredentialSource | undefined {
  if (config.aws.ecrPublic && registry === ecrPublicHost(config.aws)) {
    return lazyEcrPublicCredentials(config.aws.ecrPublicEndpoint);
  }
  const path = process.env.DOCKER_CONFIG ? `${process.env.DOCKER_CONFIG}/config.json` : defaultDockerConfigPath();
  return existsSync(path) ? dockerConfigCredentials(registry, { path }) : undefined;
}

/** ECR Public tokens, with the AWS SDK loaded only when a token is first needed. */
function lazyEcrPublicCredentials(endpoint: string | undefined): CredentialSource {
  let source: Promise<CredentialSource> | undefined;
  const load = () => (source ??= import('../aws/ecr-public.ts').then((m) => m.ecrPublicCredentials(endpoint ? { endpoint } : {})));
  return {
    description: 'ECR Public authorization token (us-east-1)',
    get: async () => (await load()).get(),
    refresh: async () => { const s = await load(); return s.refresh ? s.refresh() : s.get(); },
  };
}
