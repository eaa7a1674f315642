/** `eksd announce`: the command line of app/announce.ts (announce a served release once, or settle an interrupted send). */
import { EksdError } from '../../errors.ts';
import { announceServed, markAnnounced, type AnnounceOptions } from '../../app/announce.ts';
import type { Emit } from '../../stages/events.ts';
import { CONFIG_OPTIONS, EXIT, type Command, type CommandContext } from '../command.ts';
import { configFrom } from '../config-flags.ts';

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
    const o: AnnounceOptions = { config: configFrom(ctx), ref, dryRun: ctx.values['dry-run'] === true, emit: infoTo(ctx), ...(ctx.stop ? { stop: ctx.stop } : {}) };
    if (ctx.values['mark-sent']) return markSentCommand(ctx, o);
    const r = await announceServed({ ...o, again: ctx.values.again === true });
    if (r.state === 'dry-run') {
      ctx.out(`Subject: ${r.announcement.subject}\n\n${r.announcement.text}`);
      return EXIT.ok;
    }
    ctx.out(r.sent.skipped
      ? `${r.name} was already announced (message ${r.sent.messageId}); use --again to send it again`
      : `announced ${r.name} via ${r.sent.via} (message ${r.sent.messageId})`);
    return EXIT.ok;
  },
};

async function markSentCommand(ctx: CommandContext, o: AnnounceOptions): Promise<number> {
  if (ctx.values.again) throw new EksdError('USAGE', '--mark-sent and --again contradict each other', { hint: 'record the send, or send again; not both' });
  const { name, changed } = await markAnnounced(o);
  ctx.out(!changed ? `${name} was already recorded as announced; nothing changed`
    : o.dryRun ? `would record ${name} as announced (dry run: nothing written, nothing sent)` : `recorded ${name} as announced; nothing was sent`);
  return EXIT.ok;
}

/** Stderr hears the loop's warnings (a lease not released); the stages' progress is not shown. */
function infoTo(ctx: CommandContext): Emit {
  return (e) => { if (e.type === 'info') ctx.err(e.message); };
}
