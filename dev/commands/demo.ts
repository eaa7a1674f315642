import { join } from 'node:path';
import { envUp, DEFAULT_ENV } from '../env/local.ts';
import { seedLocal } from '../env/seed.ts';
import { loadCatalog, loadPin } from '../../pipeline/catalog/load.ts';
import { compareBase, resolveBase, splitReference, writePin } from '../../pipeline/resolve/base.ts';
import { registryClients } from '../../pipeline/run/clients.ts';
import { runRelease, type RunResult } from '../../pipeline/run/runner.ts';
import { Journal } from '../../pipeline/run/journal.ts';
import { makePlan } from '../../pipeline/plan/plan.ts';
import { openStores } from '../../pipeline/store/open.ts';
import { latestNumber } from '../../pipeline/release/site.ts';
import { isEksdError } from '../../pipeline/errors.ts';
import { verifyRelease } from '../../pipeline/release/verify.ts';
import { consoleReporter } from '../../pipeline/report/console.ts';
import { summaryText } from '../../pipeline/report/summary.ts';
import { textTable } from '../../pipeline/report/table.ts';
import { outboxFileName } from '../../pipeline/announce/outbox.ts';
import { forChannel, type ChannelConfig as Config } from '../../pipeline/config/config.ts';
import type { Catalog } from '../../pipeline/catalog/model.ts';
import { EXIT, type Command, type CommandContext } from '../../pipeline/cli/command.ts';
import { configFrom } from '../../pipeline/cli/config-flags.ts';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the whole job on this machine: release N, a simulated Amazon Linux 2 update, release N+1',
  usage: 'eksd demo',
  details: [
    'Starts the local environment (eksd env up), seeds the stand-in upstream AL2 image and artifacts, pins the',
    'base, runs a full release, pushes a new stand-in AL2 revision (what a security update looks like), detects',
    'it as watch-base would, runs the next release, shows which images changed, and verifies both releases.',
    'Uses the local profile: registry 127.0.0.1:5000, site in out/site, announcements in out/announcements.',
  ].join('\n'),
  options: {},
  async run(ctx) {
    const config = forChannel(configFrom({ ...ctx, values: { profile: 'local' } }), '1-33');
    const say = (title: string) => ctx.out(`\n=== ${title}`);
    say('1. local environment (dockerd, registry on 127.0.0.1:5000, qemu binfmt)');
    await envUp(DEFAULT_ENV, (l) => ctx.out(`  ${l}`));
    say('2. stand-ins for the upstream Amazon Linux 2 image and the component artifacts');
    const catalog = loadCatalog(config);
    const seeded = await seedLocal(config, catalog);
    ctx.out(`  ${seeded.base.reference} (revision ${seeded.base.revision}) ${seeded.base.digest}`);
    await pinCurrentBase(ctx, config);
    say('3. release on the current base');
    const first = await release(ctx, config, catalog);
    say('4. Amazon Linux 2 publishes an update (a new stand-in revision is pushed)');
    const updated = await seedLocal(config, catalog, { update: true });
    ctx.out(`  ${updated.base.reference} is now revision ${updated.base.revision}: ${updated.base.digest}`);
    say('5. watch-base sees the new upstream digest and pins it');
    await pinCurrentBase(ctx, config);
    say('6. release on the new base');
    const second = await release(ctx, config, catalog);
    say(`7. what changed from ${first.plan.release} to ${second.plan.release}`);
    ctx.out(changes(first, second));
    say('8. eksd verify on both releases');
    for (const r of [first, second]) {
      const report = await verifyRelease(r.release!.manifest!, { client: registryClients(config), site: (await openStores(config)).site, siteBaseUrl: config.site.baseUrl, published: true });
      ctx.out(`  ${report.release}: ${report.problems.length === 0 ? 'verified' : `${report.problems.length} PROBLEM(S)`} (${report.images} images, ${report.manifests} manifests, ${report.blobs} blobs, ${report.archives} archives)`);
      if (report.problems.length) return EXIT.verifyFailed;
    }
    say('where things are');
    for (const r of [first, second]) {
      ctx.out(`  ${r.plan.release}: manifest ${r.release!.manifestPath}`);
      ctx.out(`  ${' '.repeat(r.plan.release.length)}  announcement ${join(config.announce.dir!, outboxFileName(r.plan.release))}`);
    }
    ctx.out(`  channel file ${join(config.site.dir, 'releasechannels', `${config.channel}.yaml`)}; images in ${config.imageRepo}`);
    ctx.out('\nTry: eksd verify ' + second.plan.release + '   eksd plan   eksd watch-base   eksd catalog');
    return EXIT.ok;
  },
};

async function pinCurrentBase(ctx: CommandContext, config: Config): Promise<void> {
  const pin = loadPin(config.basePin);
  const current = await resolveBase(registryClients(config)(splitReference(pin.reference).registry), pin.reference);
  const changed = compareBase(pin, current);
  if (changed.length === 0) { ctx.out(`  pin ${config.basePin} is current (${current.digest})`); return; }
  await writePin(config.basePin, current);
  ctx.out(`  pinned ${current.digest} (was ${pin.digest ?? 'none'}) in ${config.basePin}`);
}

async function release(ctx: CommandContext, config: Config, catalog: Catalog): Promise<RunResult> {
  const number = await freeNumber(config, catalog);
  if (number !== undefined) ctx.out(`  the registry already holds tags of release ${number - 1} of channel ${config.channel} (from an earlier run on this machine): releasing ${number}`);
  const reporter = consoleReporter(process.stderr);
  try {
    const result = await runRelease({ config, emit: (e) => reporter.emit(e), ...(number !== undefined ? { number } : {}) });
    reporter.close();
    ctx.out(summaryText(result));
    return result;
  } finally {
    reporter.close();
  }
}

/**
 * A number for the next release when the one after the site's newest is already taken in the registry:
 * an earlier demo from another checkout on this machine tagged it, and versioned tags are immutable.
 * Undefined when the usual number is free (or an unfinished run of this checkout must be resumed).
 */
async function freeNumber(config: Config, catalog: Catalog): Promise<number | undefined> {
  const stores = await openStores(config);
  if (await Journal.unfinished(stores.state, config.channel)) return undefined;
  const plan = makePlan(config, catalog, loadPin(config.basePin), 1);
  const clients = registryClients(config);
  const taken = await Promise.all(plan.images.map(async (image) => {
    const prefix = image.tags.versioned.replace(/\d+$/, '');
    const tags = await clients(image.registry).listTags(image.repository).catch((e: unknown) => {
      if (isEksdError(e, 'REGISTRY_NAME_UNKNOWN')) return [];
      throw e;
    });
    return Math.max(0, ...tags.filter((t) => t.startsWith(prefix)).map((t) => Number(t.slice(prefix.length))).filter(Number.isInteger));
  }));
  const next = (await latestNumber(stores.site, config.channel)) + 1;
  const highest = Math.max(...taken);
  return highest >= next ? highest + 1 : undefined;
}

function changes(a: RunResult, b: RunResult): string {
  const before = new Map(a.images.map((i) => [i.plan.name, i.index.digest]));
  const rows = b.images.map((i) => [i.plan.name, (before.get(i.plan.name) ?? '(new)').slice(0, 19), i.index.digest.slice(0, 19),
    before.get(i.plan.name) === i.index.digest ? 'unchanged' : i.changed ?? 'changed']);
  const changed = rows.filter((r) => r[3] !== 'unchanged').length;
  return `${textTable(['IMAGE', `DIGEST IN ${a.plan.number}`, `DIGEST IN ${b.plan.number}`, 'WHY'], rows)}\n\n${changed} of ${rows.length} images have new digests.`;
}
