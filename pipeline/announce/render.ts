/**
 * Renders a release announcement: a subject within SNS limits, a text body for people, a JSON body for
 * machines, the SNS `MessageStructure: json` message carrying both, and filterable message attributes.
 */
import { EksdError } from '../errors.ts';
import type { Release } from '../release/types.ts';
import type { ReleaseAttestations } from '../release/attestations.ts';
import { imageChanges, type ImageChange, type ReleaseChanges } from '../release/changes.ts';
import type { AnnouncedComponent, Announcement, AnnouncementBody, AnnouncementEvent, MessageAttribute, RetirementBody } from './types.ts';

export interface RenderOptions {
  previous?: Release;
  /** asset name -> why the image was rebuilt (from the build keys) */
  reasons?: Record<string, string>;
  manifestUrl: string;
  republish?: boolean;
  /** What is attached to each image (attestations.json), for the JSON body. */
  attestations?: ReleaseAttestations;
}

/** SNS: subject up to 100 characters, printable ASCII, no line breaks. */
export const SUBJECT_MAX = 100;
/** SNS: message plus attributes up to 256 KiB. */
export const MESSAGE_MAX_BYTES = 262_144;

export function safeSubject(subject: string): string {
  const clean = subject.replace(/[^\x20-\x7e]/g, ' ').replace(/\s+/g, ' ').trim();
  return clean.length <= SUBJECT_MAX ? clean : `${clean.slice(0, SUBJECT_MAX - 3).trimEnd()}...`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}`.trimEnd());
}

function body(release: Release, changes: ReleaseChanges, options: RenderOptions): AnnouncementBody {
  const byKey = new Map(changes.images.map((c) => [`${c.component}/${c.image}`, c]));
  const components: AnnouncedComponent[] = release.status.components.map((c) => ({
    name: c.name,
    gitTag: c.gitTag,
    images: c.assets.filter((a) => a.type === 'Image' && a.image).map((a) => {
      const ch = byKey.get(`${c.name}/${a.name}`)!;
      const attested = options.attestations?.images.find((i) => i.asset === a.name && i.index.digest === ch.digest);
      return { name: a.name, uri: ch.uri, digest: ch.digest, changed: ch.changed, ...(attested ? { attestations: { index: attested.index, platforms: attested.platforms } } : {}) };
    }),
    archives: c.assets.filter((a) => a.type === 'Archive' && a.archive).map((a) => ({
      name: a.name, uri: a.archive!.uri, os: a.os ?? null, arch: a.arch ?? [], sha256: a.archive!.sha256, sha512: a.archive!.sha512,
    })),
  }));
  const changed = changes.images.filter((i) => i.changed !== null).length;
  const event: AnnouncementEvent = options.republish ? 'republish' : changes.previous === null && release.spec.number === 1 ? 'new-channel' : 'release';
  return {
    event,
    release: release.metadata.name,
    channel: release.spec.channel,
    number: release.spec.number,
    date: release.status.date,
    manifestUrl: options.manifestUrl,
    republish: options.republish ?? false,
    previous: changes.previous,
    components,
    summary: { images: changes.images.length, changed, unchanged: changes.images.length - changed },
    removed: changes.removed,
  };
}

function imageLines(list: ImageChange[], withReason: boolean): string[] {
  return list.flatMap((i) => [
    `  ${i.image} (${i.component})${withReason && i.changed ? `: ${i.changed}` : ''}`,
    `      ${i.uri}`,
    ...(i.digest ? [`      ${i.digest}`] : []),
  ]);
}

function text(json: AnnouncementBody, changes: ReleaseChanges): string {
  const name = json.release;
  const lines: string[] = [];
  if (json.republish) {
    lines.push(`This is a republished announcement of Amazon EKS Distro ${name}; the release itself is unchanged.`);
  } else if (json.event === 'new-channel') {
    lines.push(`Amazon EKS Distro has a new release channel, ${json.channel} (Kubernetes ${json.channel.replace('-', '.')}): its first release, ${name}, is now available.`);
  } else {
    lines.push(`Amazon EKS Distro ${name} is now available.`);
  }
  lines.push(
    '',
    `Release:   ${name}`,
    `Channel:   ${json.channel}`,
    `Number:    ${json.number}`,
    `Date:      ${json.date}`,
    `Manifest:  ${json.manifestUrl}`,
    '',
    'Components:',
    ...table([
      ['NAME', 'VERSION', 'IMAGES', 'ARCHIVES'],
      ...json.components.map((c) => [c.name, c.gitTag, String(c.images.length), String(c.archives.length)]),
    ]),
    '',
  );
  const { images, changed, unchanged } = json.summary;
  if (changes.previous === null) {
    lines.push(`Images (${images}, first release in channel ${json.channel}):`, ...imageLines(changes.images, false));
  } else {
    const list = changes.images.filter((i) => i.changed !== null);
    lines.push(changed
      ? `Images changed since ${changes.previous} (${changed} of ${images}):`
      : `No image changed since ${changes.previous}.`, ...imageLines(list, true));
    lines.push(`Unchanged images: ${unchanged}`);
    if (changes.removed.length) lines.push(`Images removed since ${changes.previous}: ${changes.removed.join(', ')}`);
  }
  lines.push(
    '',
    `Install: kubectl apply -f ${json.manifestUrl}`,
    'Images can be pulled by tag or by digest (imageDigest in the manifest).',
    '',
  );
  return lines.join('\n');
}

export function renderAnnouncement(release: Release, options: RenderOptions): Announcement<AnnouncementBody> {
  const changes = imageChanges(release, options.previous, options.reasons);
  const json = body(release, changes, options);
  const txt = text(json, changes);
  const message = JSON.stringify({ default: txt, email: txt, sqs: JSON.stringify(json) });
  const announcement: Announcement<AnnouncementBody> = {
    release: json.release,
    channel: json.channel,
    number: json.number,
    subject: safeSubject(`EKS Distro ${json.release} ${json.republish ? 'republished' : 'released'}${json.event === 'new-channel' ? ' (new channel)' : ''}`),
    text: txt,
    json,
    message,
    attributes: {
      channel: { DataType: 'String', StringValue: json.channel },
      number: { DataType: 'Number', StringValue: String(json.number) },
      release: { DataType: 'String', StringValue: json.release },
      event: { DataType: 'String', StringValue: json.event },
    },
  };
  if (messageBytes(message, announcement.attributes) > MESSAGE_MAX_BYTES) {
    throw new EksdError('ANNOUNCE_TOO_LARGE', `announcement of ${json.release} is ${messageBytes(message, announcement.attributes)} bytes; SNS accepts at most ${MESSAGE_MAX_BYTES}`, {
      where: json.release, hint: 'the release has too many assets for one SNS message; subscribers should read the manifest URL instead',
    });
  }
  return announcement;
}

function messageBytes(message: string, attributes: Record<string, MessageAttribute>): number {
  return Buffer.byteLength(message) + Object.entries(attributes)
    .reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v.DataType) + Buffer.byteLength(v.StringValue), 0);
}

/** The announcement that a channel is retired; its ledger key is `<kubernetes-ch>-retired`. */
export function renderRetirement(o: { channel: string; latestRelease: number; retired: string; channelUrl: string }): Announcement<RetirementBody> {
  const latest = o.latestRelease > 0 ? `kubernetes-${o.channel}-eks-${o.latestRelease}` : null;
  const json: RetirementBody = { event: 'retired', channel: o.channel, latestRelease: latest, retired: o.retired, channelUrl: o.channelUrl };
  const txt = [
    `Amazon EKS Distro release channel ${o.channel} is retired as of ${o.retired}: it gets no more releases.`,
    '',
    latest ? `Its last release, ${latest}, stays available, with its images, tags and archives.` : 'It never had a release.',
    `Channel: ${o.channelUrl} (status.active: false)`,
    '',
  ].join('\n');
  const release = `kubernetes-${o.channel}-retired`;
  const message = JSON.stringify({ default: txt, email: txt, sqs: JSON.stringify(json) });
  return {
    release, channel: o.channel, number: o.latestRelease, subject: safeSubject(`EKS Distro channel ${o.channel} retired`), text: txt, json, message,
    attributes: {
      channel: { DataType: 'String', StringValue: o.channel },
      number: { DataType: 'Number', StringValue: String(o.latestRelease) },
      release: { DataType: 'String', StringValue: release },
      event: { DataType: 'String', StringValue: 'retired' },
    },
  };
}
