/**
 * A second machine for a test: its own dockerd (own socket and data root) and registry, started with the
 * local environment's own code and stopped (with its folder removed) when the test ends.
 */
import type { ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envDown, envUp, type EnvLayout } from '../../dev/env/local.ts';
import { freePort } from './registry.ts';

export async function startSecondEngine(t: ExecutionContext, name: string): Promise<EnvLayout> {
  const root = mkdtempSync(join(tmpdir(), `eksd-${name}-`));
  const layout: EnvLayout = { root, dockerSocket: join(root, 'run', 'docker.sock'), registryAddress: `127.0.0.1:${await freePort()}` };
  t.teardown(async () => { await envDown(layout); rmSync(root, { recursive: true, force: true }); });
  await envUp(layout);
  return layout;
}
