import { loadCatalog } from '../../catalog/load.ts';
import { textTable } from '../../report/table.ts';
import { CONFIG_OPTIONS, EXIT, type Command } from '../command.ts';
import { configFrom } from '../config-flags.ts';

export const catalogCommand: Command = {
  name: 'catalog',
  summary: 'validate and show the catalog: components, images, repositories, bases, platforms',
  usage: 'eksd catalog [--json]',
  details: 'Reads base/bases.yaml and images/*/component.yaml, validates them (schema, references, cycles,\nDockerfiles, tags) and prints the images in build order. Nothing is built or pushed.',
  options: { ...CONFIG_OPTIONS, json: { type: 'boolean', description: 'print the resolved catalog as JSON' } },
  async run(ctx) {
    const config = configFrom(ctx);
    const catalog = loadCatalog(config);
    if (ctx.values.json) {
      ctx.out(JSON.stringify({ channel: config.channel, ...catalog }, null, 2));
      return EXIT.ok;
    }
    const rows = catalog.images.map((i) => [
      i.component, i.name, i.repository, i.builder ? `${i.from} (+ ${i.builder})` : i.from,
      i.platforms.join(','), i.kind === 'base' ? 'base' : i.release ? 'yes' : 'no',
    ]);
    ctx.out(textTable(['COMPONENT', 'IMAGE', 'REPOSITORY', 'FROM', 'PLATFORMS', 'IN RELEASE'], rows));
    const archives = catalog.components.flatMap((c) => c.artifacts.filter((a) => a.release));
    ctx.out(`\nimages are pushed to ${config.imageRepo}/<repository>, bases to ${config.baseImageRepo}/<repository>`);
    ctx.out(`${catalog.components.length} components, ${catalog.images.length} images (${catalog.images.filter((i) => i.kind === 'base').length} bases), ${archives.length} release archives, channel ${config.channel}`);
    return EXIT.ok;
  },
};
