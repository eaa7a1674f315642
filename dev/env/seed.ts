/**
 * Seeds the local profile's stand-ins: the upstream AL2 image in the local registry and the component
 * artifacts of every channel under artifacts.baseUrl. `update` pushes the next stand-in revision, which is what an AL2
 * security update looks like to the pipeline (watch-base then sees a new digest).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EksdError } from '../../pipeline/errors.ts';
import type { Config } from '../../pipeline/config/config.ts';
import { allArtifacts, type ArtifactSpec, type Catalog } from '../../pipeline/catalog/model.ts';
import { loadCatalog, loadChannels, loadPin } from '../../pipeline/catalog/load.ts';
import { RegistryClient } from '../../pipeline/registry/client.ts';
import { readJson, writeFileAtomic } from '../../pipeline/util/fs-atomic.ts';
import { resolveBase, splitReference, writePin } from '../../pipeline/resolve/base.ts';
import { seedStandinBase, type SeededBase } from './standin-base.ts';
import { writeStandinArtifacts } from './standin-artifacts.ts';
import { DEFAULT_ENV } from './local.ts';

export const LOCAL_UPSTREAM = '127.0.0.1:5000/amazonlinux/amazonlinux:2';

export interface SeedResult { base: SeededBase; created: boolean; pinWritten: boolean; artifacts: number }

export async function seedLocal(config: Config, catalog: Catalog, options: { update?: boolean } = {}): Promise<SeedResult> {
  if (config.profile !== 'local') {
    throw new EksdError('USAGE', `stand-ins are only for the local profile (this is ${config.profile})`, { hint: 'use --profile local' });
  }
  const localDir = dirname(config.basePin);
  const artifactsDir = fileURLToPath(config.artifacts.baseUrl);
  const artifacts = everyChannelArtifacts(config, catalog);
  await writeStandinArtifacts(artifacts, artifactsDir);
  const reference = existsSync(config.basePin) ? loadPin(config.basePin).reference : LOCAL_UPSTREAM;
  const { registry, repository, tag } = splitReference(reference);
  const client = new RegistryClient({ registry });
  const stateFile = join(localDir, 'standin-base.json');
  const state = await readJson<{ revision: number }>(stateFile);
  const present = state ? await client.headManifest(repository, tag) : undefined;
  let base: SeededBase;
  let created = false;
  if (present && state && !options.update) {
    const resolved = await resolveBase(client, reference);
    base = { ...resolved, revision: state.revision };
  } else {
    const revision = options.update ? (state?.revision ?? 0) + 1 : state?.revision ?? 1;
    base = await seedStandinBase(client, repository, tag, revision, join(DEFAULT_ENV.root, 'busybox'));
    await writeFileAtomic(stateFile, JSON.stringify({ revision }));
    created = true;
  }
  const pinWritten = !existsSync(config.basePin) || !loadPin(config.basePin).digest;
  if (pinWritten) await writePin(config.basePin, base);
  return { base, created, pinWritten, artifacts: artifacts.length };
}

/** The catalog's artifacts and those of every other channel, each once (channels share most versions). */
function everyChannelArtifacts(config: Config, catalog: Catalog): ArtifactSpec[] {
  const catalogs = [catalog, ...loadChannels(config).map((c) => loadCatalog(config, c.name))];
  const byPath = new Map(catalogs.flatMap(allArtifacts).map((a) => [`${a.project}/${a.gitTag}/${a.name}`, a]));
  return [...byPath.values()];
}
