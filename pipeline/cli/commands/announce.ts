import { EksdError } from '../../errors.ts';
import { verifyRelease } from '../../site/verify.ts';
import { markSent } from '../../announce/once.ts';
import { registryClients } from '../../app/clients.ts';
import { announcementOf, announceRelease } from '../../announce/release.ts';
import type { Config } from '../../config/config.ts';
import { assertServed, readGiven, type Served } from '../../site/served.ts';
import { verifyError } from '../../stages/verify.ts';
import { CONFIG_OPTIONS, EXIT, type Command, type CommandContext } from '../command.ts';
import { configFrom } from '../config-flags.ts';
import { releaseFromArg } from '../release-ref.ts';
import { refuseStateInSite } from '../../store/legacy-state.ts';
import { openStores, type Stores } from '../../store/open.ts';
import { proveConditionalWrites } from '../../store/probe.ts';
import { withLease } from '../../store/lease.ts';

export const announceCommand: Command = {
  name: 'announce',
  summary: 'announce a release the site serves (verified first); sends once unless --again',
  usage: 'eksd announce <release name | manifest file | URL> [--again | --mark-sent] [--dry-run]',
  details: [
    'Announces only a release the site serves: the manifest given (a release name, a file or a URL) must be,',
    'byte for byte, the one the site store holds as kubernetes-<ch>/kubernetes-<ch>-eks-<N>.yaml (and the one',
    'the public site serves, with site.verifyUrl), and releasechannels/<ch>.yaml must point at it (or at a later',
    'release). It is announced under the name the site gives it. An edited copy, a manifest the site does not',
    'have, or a release whose run has not moved the pointers yet is refused (exit 3), and nothing is sent.',
    'Then it verifies the release and publishes the announcement through SNS (production) or the outbox (local).',
    'A release already announced is not sent again; --again sends it again on purpose.',
    'A send that was interrupted (the run died waiting for SNS to answer, or SNS answered unreadably) stops',
    'later runs with ANNOUNCE_INTERRUPTED until a person checks what subscribers received, then either records',
    'it with --mark-sent (nothing is sent) or sends it with --again.',
  ].join('\n'),
  options: {
    ...CONFIG_OPTIONS,
    again: { type: 'boolean', description: 'send again even though it was announced' },
    'mark-sent': { type: 'boolean', description: 'record an interrupted send as delivered, sending nothing' },
    'dry-run': { type: 'boolean', description: 'check that the site serves it and print the message instead of sending it' },
  },
  // SIGTERM / SIGINT never cut a send short: they stop the command before it sends, after verify.
  stoppable: true,
  async run(ctx) {
    const ref = ctx.args[0];
    if (!ref) throw new EksdError('USAGE', 'which release? give a release name, a manifest file or a URL', { hint: 'eksd announce kubernetes-1-33-eks-1' });
    const config = configFrom(ctx);
    const stores = await openStores(config);
    // The ledger is what keeps this send to one: it must be where releases record it, on a store that honours conditions.
    await refuseStateInSite(config, stores);
    if (ctx.values['dry-run'] !== true) await proveConditionalWrites(stores.state);
    if (ctx.values['mark-sent']) return markSentCommand(ctx, ref, config, stores);
    const given = await readGiven(ref, stores.site);
    const served = () => assertServed(given, stores.site, config.site.verifyUrl);
    if (ctx.values['dry-run']) {
      const announcement = await announcementOf(config, stores, (await served()).release);
      ctx.out(`Subject: ${announcement.subject}\n\n${announcement.text}`);
      return EXIT.ok;
    }
    const { release, sent } = await withLease(stores.state, given.release.spec.channel, `eksd announce ${ref}`, config.leaseSeconds, async (lease) => {
      const r = await verified(config, stores, await served());
      ctx.stop?.check('the announcement was sent');
      return { release: r, sent: await announceRelease(config, stores, lease, r, { again: ctx.values.again === true }) };
    }, ctx.err);
    const name = release.metadata.name;
    ctx.out(sent.skipped
      ? `${name} was already announced (message ${sent.messageId}); use --again to send it again`
      : `announced ${name} via ${sent.via} (message ${sent.messageId})`);
    return EXIT.ok;
  },
};

/** The release the site serves, verified against the registry and the site; VERIFY_FAILED otherwise. */
async function verified(config: Config, stores: Stores, served: Served) {
  const report = await verifyRelease(served.release, { client: registryClients(config), site: stores.site, siteBaseUrl: config.site.baseUrl,
    ...(config.site.verifyUrl ? { publicUrl: config.site.verifyUrl } : {}) });
  if (report.problems.length > 0) throw verifyError(report);
  return served.release;
}

async function markSentCommand(ctx: CommandContext, ref: string, config: Config, stores: Stores): Promise<number> {
  if (ctx.values.again) throw new EksdError('USAGE', '--mark-sent and --again contradict each other', { hint: 'record the send, or send again; not both' });
  const release = await releaseFromArg(ref, config);
  const name = release.metadata.name;
  const dryRun = ctx.values['dry-run'] === true;
  const mark = () => markSent({ release: name, state: stores.state, dryRun });
  const changed = dryRun ? await mark() : await withLease(stores.state, release.spec.channel, `eksd announce ${name} --mark-sent`, config.leaseSeconds, mark, ctx.err);
  ctx.out(!changed ? `${name} was already recorded as announced; nothing changed`
    : dryRun ? `would record ${name} as announced (dry run: nothing written, nothing sent)` : `recorded ${name} as announced; nothing was sent`);
  return EXIT.ok;
}
