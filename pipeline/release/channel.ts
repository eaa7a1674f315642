/** The ReleaseChannel custom resource (`releasechannels/<ch>.yaml`): build, render, parse. */
import { EksdError } from '../errors.ts';
import { parseYaml } from '../util/yaml-source.ts';
import { assertChannel, assertNumber } from './naming.ts';
import { API_VERSION, RETIRED_ANNOTATION, type ReleaseChannel } from './types.ts';
import { assertValidReleaseChannel } from './validate.ts';
import { renderYaml } from './yaml.ts';

export interface ChannelInput {
  channel: string;
  latestRelease: number;
  snsTopicArn?: string;
  active: boolean;
  /** The day a retired channel was retired (YYYY-MM-DD), kept in the RETIRED_ANNOTATION annotation. */
  retired?: string;
}

export function buildReleaseChannel(input: ChannelInput): ReleaseChannel {
  assertChannel(input.channel, 'release channel');
  assertNumber(input.latestRelease, `release channel ${input.channel} latestRelease`);
  const rc: ReleaseChannel = {
    apiVersion: API_VERSION,
    kind: 'ReleaseChannel',
    metadata: { name: input.channel, creationTimestamp: null, ...(!input.active && input.retired ? { annotations: { [RETIRED_ANNOTATION]: input.retired } } : {}) },
    spec: input.snsTopicArn ? { snsTopicARN: input.snsTopicArn } : {},
    status: { active: input.active, latestRelease: input.latestRelease },
  };
  assertValidReleaseChannel(rc, { source: `ReleaseChannel ${input.channel}` });
  return rc;
}

export function renderReleaseChannel(rc: ReleaseChannel): string {
  return renderYaml(rc);
}

export function parseReleaseChannel(text: string, source: string): ReleaseChannel {
  const parsed = parseYaml(text, source, { code: 'CHANNEL_PARSE' });
  const value = parsed.data as { kind?: unknown } | null;
  if (value === null || typeof value !== 'object' || value.kind !== 'ReleaseChannel') {
    throw new EksdError('CHANNEL_PARSE', `${source} is not a ReleaseChannel`, {
      where: parsed.locate(['kind']), hint: 'point at a releasechannels/<ch>.yaml file',
    });
  }
  assertValidReleaseChannel(value, { source, locate: parsed.locate });
  return value;
}

/** The day a retired channel was retired, as its file says; undefined for an active channel or one retired before the date was recorded. */
export function retiredOn(rc: ReleaseChannel): string | undefined {
  return rc.status.active ? undefined : rc.metadata.annotations?.[RETIRED_ANNOTATION];
}
