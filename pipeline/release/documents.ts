/**
 * The documents published beside each Release manifest, as upstream publishes them, made from the same
 * data: `index.md` (the manifest link, every component's version, image URIs with digests, archives
 * with checksums), `CHANGELOG.md` (what changed since the channel's previous release, and why) and
 * `announcement.txt` (the text the announcement sends). Rendered from the stored Release, so a resumed
 * run writes the same bytes.
 */
import { channelDir } from './naming.ts';
import { contentChanges, describeChange } from './compare.ts';
import type { Release } from './types.ts';
import { imageChanges } from './changes.ts';
import { attestationsMarkdown, type ReleaseAttestations } from './attestations.ts';

export interface ReleaseDocument { key: string; text: string }

export interface DocumentsInput {
  release: Release;
  previous?: Release;
  manifestUrl: string;
  /** asset name -> why the image was rebuilt */
  reasons: Record<string, string>;
  announcementText: string;
  attestations?: ReleaseAttestations;
}

export function releaseDocuments(d: DocumentsInput): ReleaseDocument[] {
  const dir = `${channelDir(d.release.spec.channel)}/releases/${d.release.spec.number}`;
  return [
    { key: `${dir}/index.md`, text: indexMarkdown(d) },
    { key: `${dir}/CHANGELOG.md`, text: changelogMarkdown(d) },
    { key: `${dir}/announcement.txt`, text: d.announcementText },
  ];
}

const cell = (s: string) => s.replace(/\|/g, '\\|');
const row = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;

function indexMarkdown(d: DocumentsInput): string {
  const r = d.release;
  const lines = [
    `# ${r.metadata.name}`, '',
    `Channel ${r.spec.channel}, release ${r.spec.number}, ${r.status.date}.`, '',
    `Release manifest: [${d.manifestUrl}](${d.manifestUrl}) (\`kubectl apply -f ${d.manifestUrl}\`)`, '',
    '## Components', '',
    row(['component', 'version', 'image', 'digest']), row(['---', '---', '---', '---']),
  ];
  for (const c of r.status.components) {
    const images = c.assets.filter((a) => a.type === 'Image');
    if (images.length === 0) lines.push(row([c.name, c.gitTag, '', '']));
    for (const a of images) lines.push(row([c.name, c.gitTag, a.image?.uri ?? '', a.image?.imageDigest ?? '']));
  }
  lines.push('', '## Archives', '', row(['component', 'archive', 'sha256']), row(['---', '---', '---']));
  for (const c of r.status.components) {
    for (const a of c.assets.filter((x) => x.type === 'Archive')) lines.push(row([c.name, `[${a.name}](${a.archive?.uri ?? ''})`, a.archive?.sha256 ?? '']));
  }
  if (d.attestations) lines.push('', ...attestationsMarkdown(d.attestations));
  return `${lines.join('\n')}\n`;
}

function changelogMarkdown(d: DocumentsInput): string {
  const r = d.release;
  const head = [`# Changes in ${r.metadata.name}`, ''];
  if (!d.previous) return `${[...head, `First release of channel ${r.spec.channel}.`].join('\n')}\n`;
  const changes = contentChanges(r, d.previous);
  const versions = changes.filter((c) => c.what.endsWith(' version')).map(describeChange);
  // Images as the announcement words them: with the rebuild reasons the build keys give.
  const { images: imageList, removed } = imageChanges(r, d.previous, d.reasons);
  const images = [...imageList.filter((i) => i.changed !== null).map((i) => `${i.component}/${i.image}: ${i.changed} (${i.digest ?? 'no digest'})`),
    ...removed.map((k) => `${k} removed`)];
  const archives = changes.filter((c) => c.what.endsWith(' sha256')).map(describeChange);
  const section = (title: string, items: string[]) => (items.length ? [`## ${title}`, '', ...items.map((i) => `- ${i}`), ''] : []);
  const body = [...section('Versions', versions), ...section('Images', images), ...section('Archives', archives)];
  return `${[...head, `Since ${d.previous.metadata.name}.`, '', ...(body.length ? body : ['Nothing changed; released on purpose.', ''])].join('\n')}`;
}
