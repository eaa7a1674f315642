/**
 * `eksd republish`: an existing release, copied from wherever its digests are to the configured
 * imageRepo or --to, its tags restored, verified, and announced again only when asked (in place, after
 * verify). It runs the republish stage list (stages/lists/republish.ts) through the same loop as a
 * release, which holds the channel's lease for it. Base images are not listed in a Release manifest, so they are not republished;
 * the manifest's images are self-contained indexes (their layers include the base layers).
 */
import { verifierFor } from './signing.ts';
import type { Config } from '../config/config.ts';
import { EksdError } from '../errors.ts';
import type { Release } from '../release/types.ts';
import type { VerifyReport } from '../site/verify.ts';
import { openStores } from '../store/open.ts';
import { proveConditionalWrites } from '../store/probe.ts';
import { refuseStateInSite } from '../store/legacy-state.ts';
import type { AnnounceOutcome } from '../stages/announce.ts';
import type { RepublishedImage } from '../stages/republish/copy.ts';
import { formatLocation, parseLocation, releaseImages, repoIn, type Location } from '../stages/republish/locate.ts';
import { republishStages, type RepublishOutputs } from '../stages/lists/republish.ts';
import type { Emit } from '../stages/events.ts';
import type { ClientFactory } from '../registry/client.ts';
import { registryClients } from './clients.ts';
import { Journal } from './journal.ts';
import { runStages } from './loop.ts';
import type { StopRequest } from './stop.ts';

export { mirrorDirName, parseLocation, type Location } from '../stages/republish/locate.ts';
export type { RepublishedImage, RepublishedTag, TagAction } from '../stages/republish/copy.ts';

export interface RepublishOptions {
  config: Config;
  release: Release;
  /** Where to copy to (default: the configured imageRepo). */
  to?: Location;
  /** More places to look for the digests (e.g. a mirror that still has them). */
  from?: Location[];
  /** Path of the mirror manifest (default `<site>/mirrors/<target>/<release>.yaml`). */
  output?: string;
  announce?: boolean;
  clients?: ClientFactory;
  /** Progress: the loop's stage events, and info lines. */
  emit?: Emit;
  /** Verify: tries for a tag that does not resolve yet (default 5). */
  verifyAttempts?: number;
  /** Images copied at once (default 4). */
  concurrency?: number;
  /** SIGTERM / SIGINT: stop before the next stage and release the lease. */
  stop?: StopRequest;
}

export interface RepublishResult {
  release: string;
  target: string;
  /** true when the target is not where the manifest points (a mirror manifest was written) */
  mirror: boolean;
  mirrorManifest?: string;
  images: RepublishedImage[];
  verify: VerifyReport;
  announcement?: AnnounceOutcome & { resend: number };
  ms: number;
}

export async function republish(o: RepublishOptions): Promise<RepublishResult> {
  const started = Date.now();
  const { config, release } = o;
  const emit = o.emit ?? (() => {});
  const name = release.metadata.name;
  const configured = parseLocation(config.imageRepo, 'imageRepo');
  const target = o.to ?? configured;
  const from = o.from ?? [];
  const images = releaseImages(release, [configured, ...from, target]);
  if (images.length === 0) throw new EksdError('REPUBLISH_INPUT', `${name} lists no Image assets`, { where: name, hint: 'nothing to republish' });
  const mirror = images.some((i) => i.registry !== target.registry || i.repository !== repoIn(target, i.rel));
  checkOptions(o, name, target, mirror);
  const stores = await openStores(config);
  await refuseStateInSite(config, stores);
  await proveConditionalWrites(stores.state);
  const verifier = await verifierFor(config);
  const { channel } = release.spec;
  const { out } = await runStages(republishStages({
    config, release, images, target, from, configured, mirror, clients: o.clients ?? registryClients({ ...config, imageRepo: formatLocation(target) }),
    stores, announce: o.announce === true, concurrency: o.concurrency ?? 4, log: (message) => emit({ type: 'info', message }),
    ...(o.output ? { output: o.output } : {}), ...(o.verifyAttempts ? { verifyAttempts: o.verifyAttempts } : {}),
    ...(verifier ? { verifier } : {}),
  }), {
    emit, ...(o.stop ? { stop: o.stop } : {}),
    lease: { store: stores.state, channel, command: `eksd republish ${name} (pid ${process.pid})`, ttlSeconds: config.leaseSeconds },
    open: async () => {
      const unfinished = (await Journal.unfinished(stores.state, channel))?.data.number;
      return { recorded: {}, run: unfinished !== undefined ? { unfinished } : {} };
    },
  });
  return resultOf(out as RepublishOutputs, { name, target, mirror, started });
}

function checkOptions(o: RepublishOptions, name: string, target: Location, mirror: boolean): void {
  if (mirror && o.announce) {
    throw new EksdError('USAGE', `--announce announces ${name} where its manifest points; ${formatLocation(target)} is a mirror copy`, {
      where: '--announce', hint: 'republish in place (without --to) to re-announce; mirrors are not announced',
    });
  }
  if (!mirror && o.output) {
    throw new EksdError('USAGE', `--output is for mirror manifests, and ${formatLocation(target)} is where ${name} already points`, {
      where: '--output', hint: 'give --to <registry/namespace> of a mirror, or drop --output',
    });
  }
}

function resultOf(out: RepublishOutputs, o: { name: string; target: Location; mirror: boolean; started: number }): RepublishResult {
  return {
    release: o.name, target: formatLocation(o.target), mirror: o.mirror, images: out.copy, verify: out.verify,
    ...(out.record?.mirrorManifest ? { mirrorManifest: out.record.mirrorManifest } : {}),
    ...(out.announce ? { announcement: { ...out.announce, resend: out.announce.resend ?? 0 } } : {}),
    ms: Date.now() - o.started,
  };
}
