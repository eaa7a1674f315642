/**
 * The builders of a run, in the order of preference: the assembler, then BuildKit on the configured
 * Docker engine. Loaded on first use (a run that reuses every image never reaches the engine). An engine
 * on this machine (a unix socket) gets the parents from our loopback endpoint; a remote one (tcp://)
 * pulls them from their registries. The assembler matches the engine's BuildKit, asked only when the
 * assembler is on. `close` ends the engine's endpoint, if it was ever loaded.
 */
import type { Builder } from '../builders/port.ts';

export type Builders = (() => Promise<readonly Builder[]>) & { close(): Promise<void> };

export function buildersAt(dockerSocket: string, assemble: boolean): Builders {
  let loaded: Promise<{ builders: Builder[]; close(): Promise<void> }> | undefined;
  const load = async () => {
    const [{ default: Docker }, { BuildKitBuilder }, { BuildKit }, { Assembler }, { engineAddress }] = await Promise.all([
      import('dockerode'), import('../builders/buildkit/builder.ts'), import('../builders/buildkit/buildkit.ts'), import('../builders/assembler/builder.ts'),
      import('../builders/buildkit/engine.ts')]);
    const address = engineAddress(dockerSocket);
    const docker = new Docker(address.options);
    const buildkit = new BuildKit(docker, new BuildKitBuilder(docker, { parentsOnLoopback: address.local }));
    const assembler = new Assembler(assemble ? await buildkit.buildkit() : undefined);
    return { builders: [assembler, buildkit], close: () => buildkit.close() };
  };
  const builders = async () => (await (loaded ??= load())).builders;
  return Object.assign(builders, { close: async () => { await (await loaded?.catch(() => undefined))?.close(); } });
}
