/**
 * Extra tags (pause's "3.10") are floating: each points at one digest of its repository. Two rules: they
 * must not look like the tags the engine moves itself, and a tag of a repository may be claimed by one
 * active channel only, or every release of either channel would move it to that channel's digest.
 */
import { isEngineTag } from '../release/naming.ts';
import type { FieldPath, YamlSource } from '../util/yaml-source.ts';
import type { Problems } from './problems.ts';

/** An active channel putting `tag` on `repository`, claimed at `where`. */
export interface TagClaim { channel: string; repository: string; tag: string; where: string }

export function checkTagShapes(tags: string[], source: YamlSource, path: FieldPath, problems: Problems): void {
  tags.forEach((tag, t) => {
    if (isEngineTag(tag)) problems.add(`${source.at([...path, t])}: extra tag '${tag}' has the shape of a tag the engine moves (<gitTag>-eks-<channel>-<number> or <gitTag>-eks-<channel>-latest); choose a tag without an -eks-<channel>-<number|latest> ending`);
  });
}

export function checkFloatingTags(claims: TagClaim[], problems: Problems): void {
  const byTag = new Map<string, TagClaim[]>();
  for (const claim of claims) {
    const key = `${claim.repository}:${claim.tag}`;
    byTag.set(key, [...(byTag.get(key) ?? []), claim]);
  }
  for (const list of byTag.values()) {
    const channels = [...new Set(list.map((c) => c.channel))];
    if (channels.length < 2) continue;
    const { repository, tag } = list[0]!;
    problems.add(`${list[0]!.where}: extra tag '${tag}' of ${repository} is claimed by more than one channel: ${places(list)}. A floating tag points at one digest, so it would flip between those channels' images with every release; keep it in one channel: put it under the extraTags of a versions entry that lists only that channel (say, the newest channel using it) and remove the other claims`);
  }
}

/** "1-31 at file:3:5 versions[1].extraTags.pause[0]; 1-30, 1-33 at file:9:5 images[0].extraTags[0]" */
function places(claims: TagClaim[]): string {
  const byWhere = new Map<string, string[]>();
  for (const c of claims) byWhere.set(c.where, [...new Set([...(byWhere.get(c.where) ?? []), c.channel])]);
  return [...byWhere].map(([where, channels]) => `${channels.join(', ')} at ${where}`).join('; ');
}
