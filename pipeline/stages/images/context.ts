/**
 * Build contexts: the recipe folder plus, per platform, only that platform's staged artifacts.
 * Every file is listed with its content hash, so the build key covers exactly what BuildKit sees.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { ImageSpec } from '../../catalog/model.ts';
import type { Platform } from '../../config/config.ts';
import type { FetchedArtifact } from '../../resolve/artifacts.ts';
import type { ContextFile } from '../../image/context.ts';

/** Files of the recipe folder that are not build input. */
const NOT_CONTEXT = new Set(['component.yaml']);

export async function contextFiles(image: ImageSpec, platform: Platform, artifacts: FetchedArtifact[]): Promise<ContextFile[]> {
  const recipe = (await walk(image.contextDir)).filter((f) => !NOT_CONTEXT.has(relative(image.contextDir, f)));
  const files = await Promise.all(recipe.map((f) => describe(relative(image.contextDir, f), f, 'recipe')));
  for (const stage of image.stages) {
    for (const a of artifacts.filter((x) => x.spec.stage === stage && x.spec.platform === platform && x.spec.component === image.component)) {
      if (a.extracted) {
        for (const f of await walk(a.extracted)) {
          if (basename(f) !== '.complete') files.push(await describe(join(stage, relative(a.extracted, f)), f, 'artifact'));
        }
      } else {
        // A raw binary is staged executable whatever the cache file's mode.
        files.push({ ...(await describe(join(stage, basename(a.spec.name)), a.path, 'artifact')), mode: 0o755 });
      }
    }
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

async function describe(name: string, source: string, origin: ContextFile['origin']): Promise<ContextFile> {
  const [content, info] = await Promise.all([readFile(source), stat(source)]);
  return { name, source, mode: info.mode & 0o111 ? 0o755 : 0o644, sha256: createHash('sha256').update(content).digest('hex'), origin };
}
