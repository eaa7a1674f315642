import { appendGithubOutput } from '../../util/github.ts';
import { loadChannels, loadPin, parsePin } from '../../catalog/load.ts';
import { openStores } from '../../store/open.ts';
import { pinKey, releasedPin } from '../../store/released-pin.ts';
import type { UpstreamPin } from '../../catalog/model.ts';
import { compareBase, resolveBase, splitReference, writePin } from '../../resolve/base.ts';
import { registryClients } from '../../app/clients.ts';
import { textTable } from '../../report/table.ts';
import { CONFIG_OPTIONS, EXIT, type Command } from '../command.ts';
import { configFrom } from '../config-flags.ts';

export const watchBaseCommand: Command = {
  name: 'watch-base',
  summary: 'compare the upstream base image with what the channel was last released from; --write pins it',
  usage: 'eksd watch-base [--write] [--json]',
  details: [
    'Resolves the upstream reference in the pin file to its index digest and per-platform digests and compares',
    'them, index with index and platform with platform, with the pin the channel was last released from (kept in',
    'the state store, so a fresh CI machine sees what was really released), or with the pin file before the',
    'first release. --write makes the pin file hold what the registry serves now.',
    'Exit codes: 0 unchanged, 10 changed (also after --write), 1 error.',
    'With GITHUB_OUTPUT set, writes changed=true|false, digest=<index digest> and one <os>-<arch>=<digest> per platform.',
  ].join('\n'),
  options: {
    ...CONFIG_OPTIONS,
    write: { type: 'boolean', description: 'update the pin file with what the registry serves now' },
    json: { type: 'boolean', description: 'print the comparison as JSON' },
  },
  async run(ctx) {
    const config = configFrom(ctx);
    const file: UpstreamPin = loadPin(config.basePin);
    const { state } = await openStores(config);
    // Each channel against the pin it was last released from: the base changed if any is behind.
    const channels = config.channel ? [config.channel] : loadChannels(config).filter((c) => c.active).map((c) => c.name);
    const pins = await Promise.all(channels.map(async (ch) => {
      const released = await releasedPin(state, ch);
      return released !== undefined ? parsePin(released, state.where(pinKey(ch))) : file;
    }));
    const current = await resolveBase(registryClients(config)(splitReference(file.reference).registry), file.reference);
    const behind = channels.filter((_, i) => compareBase(pins[i]!, current).length > 0);
    const pin = pins[Math.max(0, channels.indexOf(behind[0]!))] ?? file;
    const changes = compareBase(pin, current);
    // The file gets what the registry serves now whenever it differs, even when the release already has it.
    const written = ctx.values.write === true && compareBase(file, current).length > 0;
    if (written) await writePin(config.basePin, current);
    writeGithubOutput(changes.length > 0, current);
    if (ctx.values.json) {
      ctx.out(JSON.stringify({ reference: pin.reference, changed: changes.length > 0, behind, written, pinned: { digest: pin.digest ?? null, platforms: pin.platforms }, current, changes }, null, 2));
    } else if (changes.length === 0) {
      ctx.out(`${pin.reference}: unchanged (${current.digest})`);
    } else {
      ctx.out(`${pin.reference}: changed${channels.length > 1 ? ` for channel${behind.length > 1 ? 's' : ''} ${behind.join(', ')}` : ''}`);
      ctx.out(textTable(['WHAT', 'PINNED', 'NOW'], changes.map((c) => [c.field, c.pinned ?? '(none)', c.current])));
      ctx.out(written ? `\nwrote ${config.basePin}` : ctx.values.write ? `\n${config.basePin} already holds it` : '\nrun `eksd watch-base --write` to pin it, then `eksd release`');
    }
    return changes.length > 0 ? EXIT.baseChanged : EXIT.ok;
  },
};

function writeGithubOutput(changed: boolean, current: { digest: string; platforms: Record<string, string> }): void {
  const platforms = Object.fromEntries(Object.entries(current.platforms).map(([p, d]) => [p.replace('/', '-'), d]));
  appendGithubOutput({ changed: String(changed), digest: current.digest, ...platforms }, { digests: ['digest', ...Object.keys(platforms)] });
}
