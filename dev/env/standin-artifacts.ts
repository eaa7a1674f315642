/**
 * Stand-in artifacts for the local profile. The real distro builds its binaries and tarballs from
 * source; here, where no upstream is reachable, each artifact of the catalog is generated
 * deterministically (a small shell program per binary, packed like the real archive), so its sha256 and
 * sha512 are stable and pinned in images/ exactly like production checksums.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tarGzBuffer } from '../../pipeline/util/tar.ts';
import type { ArtifactSpec } from '../../pipeline/catalog/model.ts';

function program(path: string, artifact: ArtifactSpec): Buffer {
  const arch = artifact.platform.split('/')[1];
  return Buffer.from([
    '#!/bin/sh',
    `# Stand-in for ${basename(path)} ${artifact.gitTag} (${artifact.platform}) of the local demo profile.`,
    `echo "${basename(path)} ${artifact.gitTag} ${arch} $*"`,
    '',
  ].join('\n'));
}

export async function standinContent(artifact: ArtifactSpec): Promise<Buffer> {
  if (!artifact.name.endsWith('.tar.gz')) return program(artifact.name, artifact);
  const files = artifact.contains.length > 0 ? artifact.contains : [basename(artifact.name, '.tar.gz')];
  return tarGzBuffer(files.map((f) => ({ name: f, content: program(f, artifact), mode: 0o755 })));
}

/** Writes every artifact under <dir>/<project>/<gitTag>/<name>, the layout artifacts.baseUrl expects. */
export async function writeStandinArtifacts(artifacts: ArtifactSpec[], dir: string): Promise<void> {
  for (const a of artifacts) {
    const file = join(dir, a.project, a.gitTag, a.name);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, await standinContent(a));
  }
}

export function checksums(content: Buffer): { sha256: string; sha512: string } {
  return {
    sha256: createHash('sha256').update(content).digest('hex'),
    sha512: createHash('sha512').update(content).digest('hex'),
  };
}
