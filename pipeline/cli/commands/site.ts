/**
 * `eksd site`: writes every page and feed of the release site again from the site store (after a
 * template or stylesheet change); an object whose bytes would not change is left alone.
 * `eksd site serve`: the site on http://127.0.0.1:<port>/ for a person to look at.
 */
import { once } from 'node:events';
import { EksdError } from '../../errors.ts';
import { registryClients } from '../../app/clients.ts';
import { openStores } from '../../store/open.ts';
import { fromRegistry } from '../../site/pages/platforms.ts';
import { serveSite } from '../../site/pages/serve.ts';
import { regenerateSite } from '../../site/pages/write.ts';
import { CONFIG_OPTIONS, EXIT, type Command, type CommandContext } from '../command.ts';
import { configFrom } from '../config-flags.ts';
import { parseInt } from './release.ts';

const DEFAULT_PORT = 8080;

export const siteCommand: Command = {
  name: 'site',
  summary: 'write the release site\'s pages and feeds again from the site store, or serve it on loopback',
  usage: 'eksd site [--json] | eksd site serve [--port N]',
  details: [
    'The pages (index.html, kubernetes-<ch>/index.html, kubernetes-<ch>/releases/<N>/index.html), the Atom feeds',
    '(feed.xml, kubernetes-<ch>/feed.xml), releases.json and site.css are made from the Release manifests and',
    'ReleaseChannel files in the site store alone; each release page lists its images\' per-platform digests from',
    'the index the manifest names, read from the registry. A release run writes them itself: its page with',
    'the release, the index pages and feeds once it is verified. Run `eksd site` after changing a template.',
    '`eksd site serve` serves the site store on 127.0.0.1 (loopback only) until stopped with Ctrl-C.',
  ].join('\n'),
  options: {
    ...CONFIG_OPTIONS,
    json: { type: 'boolean', description: 'print what was written as JSON' },
    port: { type: 'string', description: `port for serve (default ${DEFAULT_PORT}; 0 picks a free one)`, valueName: 'N' },
  },
  async run(ctx) {
    const [action, ...rest] = ctx.args;
    if (rest.length > 0 || (action !== undefined && action !== 'serve')) {
      throw new EksdError('USAGE', `unknown site action '${ctx.args.join(' ')}'`, { hint: 'eksd site (write the pages again) or eksd site serve [--port N]' });
    }
    return action === 'serve' ? serve(ctx) : regenerate(ctx);
  },
};

async function regenerate(ctx: CommandContext): Promise<number> {
  const config = configFrom(ctx);
  const { site } = await openStores(config);
  const pages = await regenerateSite(site, fromRegistry(registryClients(config)));
  if (ctx.values.json) ctx.out(JSON.stringify(pages, null, 2));
  else ctx.out(`${site.where('index.html')}: ${pages.written.length} pages and feeds written, ${pages.unchanged.length} unchanged`);
  return EXIT.ok;
}

async function serve(ctx: CommandContext): Promise<number> {
  const config = configFrom(ctx);
  const { site } = await openStores(config);
  const port = ctx.values.port === '0' ? 0 : parseInt(ctx.values.port, 'port') ?? DEFAULT_PORT;
  const served = await serveSite(site, port);
  ctx.out(`serving ${site.where('')} on ${served.url} (loopback only); Ctrl-C stops`);
  await once(served.server, 'close');
  return EXIT.ok;
}
