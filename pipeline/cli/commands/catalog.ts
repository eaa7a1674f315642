import { loadCatalog, loadChannels } from '../../catalog/load.ts';
import type { Catalog, ChannelSpec } from '../../catalog/model.ts';
import type { Config } from '../../config/config.ts';
import { textTable } from '../../report/table.ts';
import { CONFIG_OPTIONS, EXIT, type Command, type CommandContext } from '../command.ts';
import { configFrom } from '../config-flags.ts';

export const catalogCommand: Command = {
  name: 'catalog',
  summary: 'validate and show the catalog: channels, components and their versions, images, repositories, bases',
  usage: 'eksd catalog [--channel <ch>] [--json]',
  details: [
    'Reads images/channels.yaml, base/bases.yaml and images/*/component.yaml and validates every channel',
    '(schema, versions per channel, references, cycles, Dockerfiles, tags). Without --channel it shows the',
    'channels and the version of each component in each; with --channel, that channel\'s images in build',
    'order. Nothing is built or pushed.',
  ].join('\n'),
  options: {
    ...CONFIG_OPTIONS,
    channel: { type: 'string', description: 'show this channel only (default: every channel)', valueName: 'channel' },
    json: { type: 'boolean', description: 'print the resolved catalog as JSON' },
  },
  async run(ctx) {
    const config = configFrom(ctx);
    const channels = loadChannels(config);
    if (typeof ctx.values.channel === 'string') {
      const catalog = loadCatalog(config);
      showChannel(ctx, config, channels.find((c) => c.name === config.channel)!, catalog);
    } else {
      showAll(ctx, config, channels, new Map(channels.map((c) => [c.name, loadCatalog(config, c.name)])));
    }
    return EXIT.ok;
  },
};

function showChannel(ctx: CommandContext, config: Config, channel: ChannelSpec, catalog: Catalog): void {
  if (ctx.values.json) {
    ctx.out(JSON.stringify({ channel: channel.name, active: channel.active, ...(channel.retired ? { retired: channel.retired } : {}), ...catalog }, null, 2));
    return;
  }
  const rows = catalog.images.map((i) => [
    i.component, i.name, i.kind === 'base' ? '' : i.gitTag, i.repository, i.builder ? `${i.from} (+ ${i.builder})` : i.from,
    i.platforms.join(','), i.kind === 'base' ? 'base' : i.release ? 'yes' : 'no', i.extraTags.join(','),
  ]);
  ctx.out(textTable(['COMPONENT', 'IMAGE', 'VERSION', 'REPOSITORY', 'FROM', 'PLATFORMS', 'IN RELEASE', 'EXTRA TAGS'], rows));
  const archives = catalog.components.flatMap((c) => c.artifacts.filter((a) => a.release));
  ctx.out(`\nimages are pushed to ${config.imageRepo}/<repository>, bases to ${config.baseImageRepo}/<repository>`);
  ctx.out(`${catalog.components.length} components, ${catalog.images.length} images (${catalog.images.filter((i) => i.kind === 'base').length} bases), ${archives.length} release archives, channel ${channel.name} (${state(channel)})`);
}

function showAll(ctx: CommandContext, config: Config, channels: ChannelSpec[], catalogs: Map<string, Catalog>): void {
  if (ctx.values.json) {
    ctx.out(JSON.stringify({ channels: channels.map((c) => ({ ...c, ...catalogs.get(c.name)! })) }, null, 2));
    return;
  }
  ctx.out(textTable(['CHANNEL', 'STATE', 'COMPONENTS', 'IMAGES', 'RELEASE ARCHIVES'], channels.map((c) => {
    const catalog = catalogs.get(c.name)!;
    const archives = catalog.components.flatMap((x) => x.artifacts.filter((a) => a.release)).length;
    return [c.name, state(c), String(catalog.components.length), String(catalog.images.length), String(archives)];
  })));
  const names = [...new Set([...catalogs.values()].flatMap((c) => c.components.map((x) => x.name)))].sort();
  const versions = names.map((name) => [name, ...channels.map((c) => catalogs.get(c.name)!.components.find((x) => x.name === name)?.gitTag ?? '-')]);
  ctx.out(`\n${textTable(['COMPONENT', ...channels.map((c) => c.name)], versions)}`);
  ctx.out(`\nimages are pushed to ${config.imageRepo}/<repository>, bases to ${config.baseImageRepo}/<repository>; the same bases in every channel`);
  ctx.out(`${channels.length} channels (${channels.filter((c) => c.active).length} active), ${names.length} components; eksd catalog --channel <ch> lists a channel's images in build order`);
}

function state(channel: ChannelSpec): string {
  return channel.active ? 'active' : `retired ${channel.retired}`;
}
