/** images/channels.yaml: the supported release channels, in catalog order. */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { EksdError } from '../errors.ts';
import type { Config } from '../config/config.ts';
import type { ChannelSpec } from './model.ts';
import { Problems, readSource, schemaOk } from './problems.ts';

interface RawChannels { channels: Array<{ name: string; active: boolean; retired?: string }> }

export function channelsFile(root: string): string {
  return join(root, 'images', 'channels.yaml');
}

export function shownChannelsFile(root: string): string {
  return relative(process.cwd(), channelsFile(root)) || channelsFile(root);
}

/** The channels of images/channels.yaml, validated on their own (loadCatalog validates the rest). */
export function loadChannels(config: Pick<Config, 'root'>): ChannelSpec[] {
  const problems = new Problems();
  const channels = readChannels(config.root, problems);
  problems.throwIfAny();
  return channels;
}

/** Reads the channels file, adding its problems; returns the entries that can be used. */
export function readChannels(root: string, problems: Problems): ChannelSpec[] {
  const file = channelsFile(root);
  if (!existsSync(file)) {
    problems.add(`${shownChannelsFile(root)}: file not found; it lists the supported release channels (name, active, retired), see README "Catalog format"`);
    return [];
  }
  const source = readSource(file, problems);
  if (!source || !schemaOk('channels', source, problems)) return [];
  const first = new Map<string, string>();
  const out: ChannelSpec[] = [];
  (source.data as RawChannels).channels.forEach((c, i) => {
    const at = (field: string) => source.at(['channels', i, field]);
    const earlier = first.get(c.name);
    if (earlier) {
      problems.add(`${at('name')}: channel ${c.name} is listed twice (also at ${earlier}); keep one entry`);
      return;
    }
    first.set(c.name, at('name'));
    if (!c.active && c.retired === undefined) problems.add(`${at('active')}: channel ${c.name} is retired (active: false) but has no date; add retired: <YYYY-MM-DD>, the day it stopped getting releases`);
    if (c.active && c.retired !== undefined) problems.add(`${at('retired')}: channel ${c.name} is active but has retired: ${c.retired}; set active: false to retire it, or remove retired`);
    out.push({ name: c.name, active: c.active, ...(c.retired !== undefined ? { retired: c.retired } : {}), where: source.at(['channels', i]) });
  });
  return out;
}

/** The channel a caller asked for, or an error naming the channels file and what it lists. */
/** The named channel; with no name, the newest active one (the channel a single-channel command works on by default). */
export function pickChannel(channels: ChannelSpec[], name: string | undefined, root: string): ChannelSpec {
  const found = name === undefined ? newestActive(channels) : channels.find((c) => c.name === name);
  if (found) return found;
  const shown = shownChannelsFile(root);
  if (name === undefined) throw new EksdError('CATALOG_INVALID', `${shown} has no active channel`, { where: shown, hint: 'set active: true on the channels that get releases' });
  throw new EksdError('CATALOG_INVALID', `channel ${name} is not in ${shown} (it lists ${channels.map((c) => c.name).join(', ')})`, {
    where: shown, hint: `choose one of those channels (--channel, EKSD_CHANNEL), or add ${name} to ${shown} with a version of every component`,
  });
}

/** The active channel with the highest Kubernetes minor. */
export function newestActive(channels: ChannelSpec[]): ChannelSpec | undefined {
  const minor = (c: ChannelSpec) => Number(c.name.split('-')[1]);
  return channels.filter((c) => c.active).sort((a, b) => minor(b) - minor(a))[0];
}
