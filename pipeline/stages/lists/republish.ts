/**
 * `eksd republish`'s stages, in order, run through the one loop (app/loop.ts) under the channel's lease:
 * locate every digest, create repositories, copy and restore tags, the manifest to verify (itself or a
 * mirror copy), verify (a problem stops the list), record the mirror copy, and on request announce.
 * Republish never rebuilds and never changes a digest; only a verified result is recorded or announced.
 */
import type { BundleVerifier } from '../../sign/port.ts';
import type { Config } from '../../config/config.ts';
import { publishLimits, transferPolicy } from '../../publish/limits.ts';
import { verifyRelease, type VerifyReport } from '../../site/verify.ts';
import type { Release } from '../../release/types.ts';
import type { Stores } from '../../store/open.ts';
import type { ClientFactory } from '../../registry/client.ts';
import { leaseOf, need, opened, stage, type Stage } from '../stage.ts';
import { announce, announceDetail, type AnnounceOutcome } from '../announce.ts';
import { ensureImageRepositories, republishRepositories } from '../repositories.ts';
import { formatLocation, locateAll, type Located, type Location, type ReleaseImage } from '../republish/locate.ts';
import { copyImages, newerReleases, type RepublishedImage } from '../republish/copy.ts';
import { manifestToVerify, writeMirror, type ToVerify } from '../republish/mirror.ts';

/** What a republish run has, beside the stages' outputs. */
export interface RepublishEnv {
  config: Config;
  release: Release;
  images: ReleaseImage[];
  target: Location;
  from: Location[];
  configured: Location;
  /** The target is not where the manifest points: verify (and write) a mirror copy. */
  mirror: boolean;
  output?: string;
  clients: ClientFactory;
  stores: Stores;
  announce: boolean;
  concurrency: number;
  verifyAttempts?: number;
  /** Checks the copied images' attestations too (signing configured). */
  verifier?: BundleVerifier;
  log: (line: string) => void;
}

/** What opening a republish run reads under the lease. */
export interface RepublishRun {
  /** The number of the channel's unfinished release run, if any. */
  unfinished?: number;
}

export interface RepublishOutputs {
  locate: Located[];
  repositories: number;
  copy: RepublishedImage[];
  mirror: ToVerify;
  verify: VerifyReport;
  record: { mirrorManifest?: string };
  announce: AnnounceOutcome;
}

type RepublishStage = Stage<RepublishOutputs, keyof RepublishOutputs & string, RepublishRun>;

export function republishStages(env: RepublishEnv): RepublishStage[] {
  const { config, release } = env;
  const name = release.metadata.name;
  return [
    stage('locate', () => locateAll({ name, images: env.images, target: env.target, from: env.from, configured: env.configured, site: env.stores.site, clients: env.clients }),
      { opensRun: true, detail: (l) => `${l.length} images of ${name} found` }),
    stage('repositories', () => ensureImageRepositories(config.aws, env.target.registry, () => republishRepositories(env.target, env.images), env.log)),
    stage('copy', async ({ out, run }) => copyImages({ located: need(out, 'locate'), target: env.target, clients: env.clients,
      // The target's limits, as a release has them (ECR Public: no mounts, paced uploads), shared by every copy.
      policy: transferPolicy(publishLimits(config, env.target.registry)), concurrency: env.concurrency, log: env.log,
      newer: await newerReleases(config, env.stores, release.spec.channel, release.spec.number, opened(run).unfinished) }),
    { detail: (c) => `${c.length} images copied to ${formatLocation(env.target)}` }),
    stage('mirror', async () => manifestToVerify(release, { mirror: env.mirror, images: env.images, target: env.target, site: env.stores.site,
      ...(env.output ? { output: env.output } : {}) })),
    stage('verify', ({ out }) => verifyRelease(need(out, 'mirror').release, { client: env.clients, site: env.stores.site, siteBaseUrl: config.site.baseUrl,
      ...(env.verifyAttempts ? { attempts: env.verifyAttempts } : {}), ...(env.verifier ? { verifier: env.verifier } : {}) }), { stopsIf: (r) => r.problems.length > 0, detail: (r) => `${r.problems.length} problem(s)` }),
    stage('record', async ({ out }) => { const path = await writeMirror(need(out, 'mirror'), env.stores.site); return path ? { mirrorManifest: path } : {}; },
      { detail: (r) => r.mirrorManifest ?? 'in place' }),
    ...(env.announce ? [stage<RepublishOutputs, 'announce', RepublishRun>('announce', ({ run }) => announce({ settings: config, stores: env.stores, lease: leaseOf(run),
      release, republish: true }), { detail: announceDetail })] : []),
  ];
}
