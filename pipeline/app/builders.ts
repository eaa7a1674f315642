/**
 * The builders of a run, in the order of preference: the assembler; BuildKit on each platform's own
 * engine (`engines`); BuildKit on the default engine (`dockerSocket`), for every platform without one.
 * Loaded on first use (a run that reuses every image never reaches an engine). An engine on this machine
 * (a unix socket) gets the parents from our loopback endpoint; a remote one (tcp://, with TLS client
 * certificates when configured) pulls them from their registries. The assembler matches, per platform,
 * the BuildKit of the engine that would build it, asked only when the assembler is on. `close` ends the
 * engines' endpoints, if they were ever loaded.
 */
import type { Builder } from '../builders/port.ts';
import { buildsPlatform } from '../builders/select.ts';
import type { BuildKit } from '../builders/buildkit/buildkit.ts';
import type { Config, Platform } from '../config/config.ts';
import type { EngineSetting } from '../config/engines.ts';

export type Builders = (() => Promise<readonly Builder[]>) & { close(): Promise<void> };

export type EngineSettings = Pick<Config, 'dockerSocket' | 'dockerCertPath' | 'engines' | 'platforms'> & { assemble: boolean };

export function buildersAt(s: EngineSettings): Builders {
  let loaded: Promise<{ builders: Builder[]; engines: BuildKit[] }> | undefined;
  const load = async () => {
    const own = (Object.entries(s.engines) as Array<[Platform, EngineSetting]>).map(([platform, e]) => engineAt(e, [platform]));
    const engines = [...await Promise.all(own), await engineAt({ host: s.dockerSocket, ...(s.dockerCertPath ? { certPath: s.dockerCertPath } : {}) })];
    const versions = new Map<string, string | undefined>();
    if (s.assemble) {
      for (const platform of s.platforms) versions.set(platform, await engines.find((e) => buildsPlatform(e, platform))!.buildkit());
    }
    const { Assembler } = await import('../builders/assembler/builder.ts');
    return { builders: [new Assembler((platform) => versions.get(platform)), ...engines], engines };
  };
  const builders = async () => (await (loaded ??= load())).builders;
  const close = async () => { await Promise.all((await loaded?.catch(() => undefined))?.engines.map((e) => e.close()) ?? []); };
  return Object.assign(builders, { close });
}

async function engineAt(e: EngineSetting, platforms?: Platform[]): Promise<BuildKit> {
  const [{ default: Docker }, { BuildKitBuilder }, { BuildKit }, { engineAddress }] = await Promise.all([
    import('dockerode'), import('../builders/buildkit/builder.ts'), import('../builders/buildkit/buildkit.ts'), import('../builders/buildkit/engine.ts')]);
  const address = engineAddress(e.host, e.certPath);
  const docker = new Docker(address.options);
  return new BuildKit(docker, new BuildKitBuilder(docker, { parentsOnLoopback: address.local }), { at: e.host, ...(platforms ? { platforms } : {}) });
}
