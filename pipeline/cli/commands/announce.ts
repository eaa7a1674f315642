import { EksdError } from '../../errors.ts';
import { verifyRelease } from '../../release/verify.ts';
import { markSent } from '../../announce/once.ts';
import { registryClients } from '../../run/clients.ts';
import { announcementOf, announceRelease } from '../../announce/release.ts';
import { verifyError } from '../../stages/verify.ts';
import { CONFIG_OPTIONS, EXIT, type Command } from '../command.ts';
import { configFrom } from '../config-flags.ts';
import { releaseFromArg } from '../release-ref.ts';
import { openStores } from '../../store/open.ts';
import { withLease } from '../../store/lease.ts';

export const announceCommand: Command = {
  name: 'announce',
  summary: 'announce a release (verified first); sends once unless --again',
  usage: 'eksd announce <release name | manifest file> [--again | --mark-sent] [--dry-run]',
  details: [
    'Verifies the release, then publishes the announcement through SNS (production) or the outbox (local).',
    'A release already announced is not sent again; --again sends it again on purpose.',
    'A send that was interrupted (the run died waiting for SNS to answer) stops later runs with',
    'ANNOUNCE_INTERRUPTED until a person checks what subscribers received, then either records it',
    'with --mark-sent (nothing is sent) or sends it with --again.',
  ].join('\n'),
  options: {
    ...CONFIG_OPTIONS,
    again: { type: 'boolean', description: 'send again even though it was announced' },
    'mark-sent': { type: 'boolean', description: 'record an interrupted send as delivered, sending nothing' },
    'dry-run': { type: 'boolean', description: 'print the message instead of sending it' },
  },
  // SIGTERM / SIGINT never cut a send short: they stop the command before it sends, after verify.
  stoppable: true,
  async run(ctx) {
    const ref = ctx.args[0];
    if (!ref) throw new EksdError('USAGE', 'which release? give a release name or a manifest file', { hint: 'eksd announce kubernetes-1-33-eks-1' });
    const config = configFrom(ctx);
    const stores = await openStores(config);
    const { site, state } = stores;
    if (ctx.values['mark-sent']) {
      if (ctx.values.again) throw new EksdError('USAGE', '--mark-sent and --again contradict each other', { hint: 'record the send, or send again; not both' });
      const release = await releaseFromArg(ref, config);
      const name = release.metadata.name;
      const dryRun = ctx.values['dry-run'] === true;
      const mark = () => markSent({ release: name, state, dryRun });
      const changed = dryRun ? await mark() : await withLease(state, release.spec.channel, `eksd announce ${name} --mark-sent`, config.leaseSeconds, mark, ctx.err);
      ctx.out(!changed ? `${name} was already recorded as announced; nothing changed`
        : dryRun ? `would record ${name} as announced (dry run: nothing written, nothing sent)` : `recorded ${name} as announced; nothing was sent`);
      return EXIT.ok;
    }
    const release = await releaseFromArg(ref, config);
    if (ctx.values['dry-run']) {
      const announcement = await announcementOf(config, stores, release);
      ctx.out(`Subject: ${announcement.subject}\n\n${announcement.text}`);
      return EXIT.ok;
    }
    const sent = await withLease(state, release.spec.channel, `eksd announce ${release.metadata.name}`, config.leaseSeconds, async (lease) => {
      const report = await verifyRelease(release, { client: registryClients(config), site, siteBaseUrl: config.site.baseUrl,
        ...(config.site.verifyUrl ? { publicUrl: config.site.verifyUrl } : {}) });
      if (report.problems.length > 0) throw verifyError(report);
      ctx.stop?.check('the announcement was sent');
      return announceRelease(config, stores, lease, release, { again: ctx.values.again === true });
    }, ctx.err);
    ctx.out(sent.skipped
      ? `${release.metadata.name} was already announced (message ${sent.messageId}); use --again to send it again`
      : `announced ${release.metadata.name} via ${sent.via} (message ${sent.messageId})`);
    return EXIT.ok;
  },
};
