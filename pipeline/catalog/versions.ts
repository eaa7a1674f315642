/**
 * Which version of a component each channel ships. A component exists in the channels its `channels`
 * lists (default: every channel); each of its versions names the channels that ship it, so a version
 * shared by several channels is written once. Every active channel of the component needs exactly one.
 */
import type { YamlSource } from '../util/yaml-source.ts';
import type { ChannelSpec } from './model.ts';
import type { Problems } from './problems.ts';
import type { RawComponent } from './raw.ts';

/** channel name -> index into `versions` */
export type VersionIndex = Map<string, number>;

/** Without channels (the channels file itself has problems, already reported) nothing can be matched. */
export function versionsByChannel(raw: RawComponent, source: YamlSource, channels: ChannelSpec[], channelsShown: string, problems: Problems): VersionIndex {
  if (channels.length === 0) return new Map();
  const known = new Map(channels.map((c) => [c.name, c]));
  const unknown = (name: string, at: string) => problems.add(`${at}: unknown channel ${name}; ${channelsShown} lists ${[...known.keys()].join(', ')}; add it there or fix the name`);
  const existsIn = componentChannels(raw, source, known, unknown);
  const index: VersionIndex = new Map();
  raw.versions.forEach((v, i) => v.channels.forEach((name, j) => {
    const at = source.at(['versions', i, 'channels', j]);
    if (!known.has(name)) return unknown(name, at);
    if (!existsIn.has(name)) return problems.add(`${at}: channel ${name} is not one of ${raw.name}'s channels (${source.at(['channels'])}); add it there or remove it here`);
    const earlier = index.get(name);
    if (earlier !== undefined) {
      return problems.add(`${at}: channel ${name} gets two versions of ${raw.name}: ${raw.versions[earlier]!.gitTag} (versions[${earlier}]) and ${v.gitTag} (versions[${i}]); a channel ships one version of a component, so remove ${name} from one of the two entries`);
    }
    index.set(name, i);
  }));
  for (const name of existsIn) {
    if (known.get(name)?.active && !index.has(name)) {
      problems.add(`${source.at(['versions'])}: active channel ${name} has no version of ${raw.name}; add ${name} to the channels of the versions entry it ships (or a new entry)${raw.channels ? `, or remove it from ${raw.name}'s channels` : ', or list the channels the component exists in under channels:'}`);
    }
  }
  checkWrittenOnce(raw, source, problems);
  return index;
}

function componentChannels(raw: RawComponent, source: YamlSource, known: Map<string, ChannelSpec>, unknown: (name: string, at: string) => void): Set<string> {
  if (!raw.channels) return new Set(known.keys());
  const out = new Set<string>();
  raw.channels.forEach((name, i) => {
    if (known.has(name)) out.add(name);
    else unknown(name, source.at(['channels', i]));
  });
  return out;
}

/** One gitTag in two entries would give one archive path two sets of checksums; shared versions are written once. */
function checkWrittenOnce(raw: RawComponent, source: YamlSource, problems: Problems): void {
  const first = new Map<string, number>();
  raw.versions.forEach((v, i) => {
    const earlier = first.get(v.gitTag);
    if (earlier !== undefined) problems.add(`${source.at(['versions', i, 'gitTag'])}: version ${v.gitTag} of ${raw.name} is written twice (also versions[${earlier}]); list all its channels in one entry`);
    else first.set(v.gitTag, i);
  });
}
