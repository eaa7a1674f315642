import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse, stringify } from 'yaml';
import { envUp, DEFAULT_ENV } from '../env/local.ts';
import { seedLocal } from '../env/seed.ts';
import { checksums, standinContent } from '../env/standin-artifacts.ts';
import { loadCatalog, loadChannels, loadPin } from '../../pipeline/catalog/load.ts';
import { newestActive } from '../../pipeline/catalog/channels.ts';
import { compareBase, resolveBase, splitReference, writePin } from '../../pipeline/resolve/base.ts';
import { registryClients } from '../../pipeline/app/clients.ts';
import { verifierFor } from '../../pipeline/app/signing.ts';
import { runReleases, type ChannelOutcome, type ReleasesResult } from '../../pipeline/app/runner.ts';
import { Journal } from '../../pipeline/app/journal.ts';
import { makePlan } from '../../pipeline/plan/plan.ts';
import { openStores } from '../../pipeline/store/open.ts';
import { latestNumber, readRelease } from '../../pipeline/site/site.ts';
import { isEksdError } from '../../pipeline/errors.ts';
import { verifyRelease } from '../../pipeline/site/verify.ts';
import { consoleReporter } from '../../pipeline/report/console.ts';
import { textTable } from '../../pipeline/report/table.ts';
import { forChannel, type Config } from '../../pipeline/config/config.ts';
import { EXIT, type Command, type CommandContext } from '../../pipeline/cli/command.ts';
import { configFrom } from '../../pipeline/cli/config-flags.ts';

/** The demo changes a catalog (a version bump, a retirement): a copy of images/ and base/ under out/, never the checkout's. */
const DEMO_CATALOG = join('out', 'demo', 'catalog');

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the whole job on this machine: every channel released, an Amazon Linux 2 update, a version bump, a channel retired',
  usage: 'eksd demo',
  details: [
    'Starts the local environment (eksd env up), seeds the stand-in upstream AL2 image and every channel\'s',
    'artifacts, pins the base and releases every active channel. Then pushes a new stand-in AL2 revision',
    '(what a security update looks like) and releases again: every channel, each shared build once. Then',
    'bumps Kubernetes in the newest channel (only that channel is released) and retires the oldest one',
    '(marked inactive and announced once), and verifies the latest release of every channel.',
    'It works on a copy of the catalog in out/demo/catalog; the registry is 127.0.0.1:5000, the site',
    'out/site, the announcements out/announcements.',
  ].join('\n'),
  options: {},
  async run(ctx) {
    const say = (title: string) => ctx.out(`\n=== ${title}`);
    say('1. local environment (dockerd, registry on 127.0.0.1:5000, qemu binfmt)');
    await envUp(DEFAULT_ENV, (l) => ctx.out(`  ${l}`));
    // Every channel, whatever EKSD_CHANNEL says: the demo is about channels released together.
    const { channel: _one, ...loaded } = configFrom({ ...ctx, values: { profile: 'local' } });
    const config: Config = { ...loaded, root: copyCatalog(loaded.root) };
    const channels = loadChannels(config).filter((c) => c.active).map((c) => c.name);
    say(`2. stand-ins for the upstream Amazon Linux 2 image and the artifacts of ${channels.length} channels (${channels.join(', ')})`);
    const seeded = await seedLocal(config, loadCatalog(config));
    ctx.out(`  ${seeded.base.reference} (revision ${seeded.base.revision}) ${seeded.base.digest}; ${seeded.artifacts} artifacts`);
    await pinCurrentBase(ctx, config);
    say('3. release every active channel');
    const first = await release(ctx, config);
    say('4. Amazon Linux 2 publishes an update (a new stand-in revision is pushed); watch-base pins it');
    const updated = await seedLocal(config, loadCatalog(config), { update: true });
    ctx.out(`  ${updated.base.reference} is now revision ${updated.base.revision}: ${updated.base.digest}`);
    await pinCurrentBase(ctx, config);
    say('5. release: every channel is on the new base, each build shared by channels made once');
    const second = await release(ctx, config);
    const bumped = newestActive(loadChannels(config))!.name;
    say(`6. a Kubernetes patch release in channel ${bumped} alone`);
    ctx.out(`  ${await bumpKubernetes(config, bumped)}`);
    await seedLocal(config, loadCatalog(config));
    const third = await release(ctx, config);
    const retired = channels[0]!;
    say(`7. channel ${retired} is retired (active: false in images/channels.yaml)`);
    retire(config.root, retired);
    const fourth = await release(ctx, config);
    say('8. eksd verify on the latest release of every channel: images, archives, and every signature, SBOM and provenance statement (the local key)');
    if (!await verifyLatest(ctx, config, channels)) return EXIT.verifyFailed;
    say('where things are');
    ctx.out(`  manifests, documents, channel files: ${config.site.dir}; announcements: ${config.announce.dir}; images in ${config.imageRepo}`);
    ctx.out(`  the catalog the demo changed: ${config.root}`);
    say('the release site');
    ctx.out(`  open ${pathToFileURL(join(resolve(config.site.dir), 'index.html')).href} in a browser,`);
    ctx.out(`  or run \`eksd site serve\` and open http://127.0.0.1:8080/ (every channel, release, image digest, archive checksum; feeds and releases.json)`);
    ctx.out(`  how each release's run went: ${join(config.site.dir, 'kubernetes-<ch>', 'releases', '<N>', 'timeline.svg')}`);
    const failed = [first, second, third, fourth].some((r) => r.channels.some((c) => c.state === 'failed'));
    ctx.out(`\nTry: eksd plan   eksd catalog   eksd watch-base   eksd verify kubernetes-${bumped}-eks-<N>`);
    return failed ? EXIT.failed : EXIT.ok;
  },
};

function copyCatalog(root: string): string {
  const dir = join(root, DEMO_CATALOG);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const part of ['images', 'base']) cpSync(join(root, part), join(dir, part), { recursive: true });
  return dir;
}

async function pinCurrentBase(ctx: CommandContext, config: Config): Promise<void> {
  const pin = loadPin(config.basePin);
  const current = await resolveBase(registryClients(config)(splitReference(pin.reference).registry), pin.reference);
  if (compareBase(pin, current).length === 0) { ctx.out(`  pin ${config.basePin} is current (${current.digest})`); return; }
  await writePin(config.basePin, current);
  ctx.out(`  pinned ${current.digest} (was ${pin.digest ?? 'none'}) in ${config.basePin}`);
}

async function release(ctx: CommandContext, config: Config): Promise<ReleasesResult> {
  const numbers = await freeNumbers(ctx, config);
  const reporter = consoleReporter(process.stderr);
  try {
    const result = await runReleases({ config, emit: (e) => reporter.emit(e), numbers });
    reporter.close();
    ctx.out(outcomeTable(result.channels));
    const built = result.channels.flatMap((c) => ('result' in c ? c.result.images : []).flatMap((i) => Object.values(i.platforms).filter((p) => p!.built)));
    ctx.out(`\n${built.length} platform images built for ${new Set(built.map((p) => p!.key)).size} distinct build keys, in ${(result.ms / 1000).toFixed(1)}s`);
    return result;
  } finally {
    reporter.close();
  }
}

function outcomeTable(channels: ChannelOutcome[]): string {
  const rows = channels.map((c) => {
    if (c.state === 'failed') return [c.channel, 'failed', '', (c.error as Error).message.split('\n')[0]!];
    if (c.state === 'retired') return [c.channel, `retired (${c.retirement.state})`, String(c.retirement.latestRelease), c.retirement.announcement ? `announced via ${c.retirement.announcement.via}` : ''];
    const r = c.result;
    const platforms = r.images.flatMap((i) => Object.values(i.platforms));
    const detail = c.state === 'unchanged' ? `nothing changed since ${r.comparison?.latest}`
      : `${platforms.filter((p) => p!.built).length} built, ${platforms.filter((p) => !p!.built).length} reused or shared; ${changeSummary(r.comparison?.changes ?? [], r.comparison?.latest ?? null)}`;
    return [c.channel, c.state, c.state === 'unchanged' ? '' : r.plan.release, detail];
  });
  return textTable(['CHANNEL', 'OUTCOME', 'RELEASE', 'WHAT'], rows);
}

/** "first release", or how many versions, digests and checksums changed since the latest. */
function changeSummary(changes: string[], latest: string | null): string {
  if (!latest) return 'first release of the channel';
  const versions = changes.filter((c) => c.includes(' version'));
  return `${changes.length} change(s) since ${latest}${versions.length ? ` (${versions.join('; ')})` : ''}`;
}

/**
 * Per channel, a number for the next release when the one after the site's newest is already taken in
 * the registry: an earlier demo from another checkout on this machine tagged it, and versioned tags are
 * immutable. Channels whose usual number is free (or that must resume an unfinished run) are left out.
 */
async function freeNumbers(ctx: CommandContext, config: Config): Promise<Record<string, number>> {
  const stores = await openStores(config);
  const clients = registryClients(config);
  const numbers: Record<string, number> = {};
  for (const channel of loadChannels(config).filter((c) => c.active).map((c) => c.name)) {
    if (await Journal.unfinished(stores.state, channel)) continue;
    const plan = makePlan(forChannel(config, channel), loadCatalog(config, channel), loadPin(config.basePin), 1);
    const taken = await Promise.all(plan.images.map(async (image) => {
      const prefix = image.tags.versioned.replace(/\d+$/, '');
      const tags = await clients(image.registry).listTags(image.repository).catch((e: unknown) => {
        if (isEksdError(e, 'REGISTRY_NAME_UNKNOWN')) return [];
        throw e;
      });
      return Math.max(0, ...tags.filter((t) => t.startsWith(prefix)).map((t) => Number(t.slice(prefix.length))).filter(Number.isInteger));
    }));
    const next = (await latestNumber(stores.site, channel)) + 1;
    const highest = Math.max(...taken);
    if (highest < next) continue;
    numbers[channel] = highest + 1;
    ctx.out(`  the registry already holds tags of release ${highest} of channel ${channel} (from an earlier run on this machine): releasing ${highest + 1}`);
  }
  return numbers;
}

/** The channel's Kubernetes version one patch up, with stand-in artifacts checksummed as a real bump would be. */
async function bumpKubernetes(config: Config, channel: string): Promise<string> {
  const file = join(config.root, 'images', 'kubernetes', 'component.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { versions: Array<{ channels: string[]; gitTag: string; artifacts: Array<{ name: string; sha256: string; sha512: string }> }> };
  const version = doc.versions.find((v) => v.channels.includes(channel))!;
  const old = version.gitTag;
  version.gitTag = old.replace(/\d+$/, (patch) => String(Number(patch) + 1));
  for (const a of version.artifacts) a.name = a.name.replaceAll(old, version.gitTag);
  writeFileSync(file, stringify(doc));
  const specs = loadCatalog(config, channel).components.find((c) => c.name === 'kubernetes')!.artifacts;
  for (const a of version.artifacts) Object.assign(a, checksums(await standinContent(specs.find((s) => s.name === a.name)!)));
  writeFileSync(file, stringify(doc));
  return `kubernetes ${old} -> ${version.gitTag} in ${file}`;
}

function retire(root: string, channel: string): void {
  const file = join(root, 'images', 'channels.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { channels: Array<{ name: string; active: boolean; retired?: string }> };
  const entry = doc.channels.find((c) => c.name === channel)!;
  entry.active = false;
  entry.retired = new Date().toISOString().slice(0, 10);
  writeFileSync(file, stringify(doc));
}

async function verifyLatest(ctx: CommandContext, config: Config, channels: string[]): Promise<boolean> {
  const stores = await openStores(config);
  const verifier = await verifierFor(config);
  let ok = true;
  for (const channel of channels) {
    const name = `kubernetes-${channel}-eks-${await latestNumber(stores.site, channel)}`;
    const release = await readRelease(name, { site: stores.site });
    const report = await verifyRelease(release, { client: registryClients(config), site: stores.site, siteBaseUrl: config.site.baseUrl, published: true,
      ...(verifier ? { verifier } : {}) });
    ctx.out(`  ${report.release}: ${report.problems.length === 0 ? 'verified' : `${report.problems.length} PROBLEM(S)`} (${report.images} images, ${report.manifests} manifests, ${report.blobs} blobs, ${report.archives} archives, ${report.attestations} signatures, SBOMs and provenance statements)`);
    for (const p of report.problems) ctx.out(`    ${p.component}/${p.asset}: ${p.problem}`);
    ok &&= report.problems.length === 0;
  }
  return ok;
}
