/** Checks over the catalog's images that do not depend on a channel, and the dependency order. */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { isSafeSegment } from '../release/naming.ts';
import type { FieldPath, YamlSource } from '../util/yaml-source.ts';
import { UPSTREAM, parentsOf, type ImageSpec } from './model.ts';
import type { Problems } from './problems.ts';
import type { Located } from './raw.ts';

export function checkSegment(value: string, field: string, source: YamlSource, path: FieldPath, problems: Problems): void {
  if (!isSafeSegment(value)) problems.add(`${source.at(path)}: ${field} '${value}' must be a plain folder name (letters, digits, '.', '_', '+', '-'; not starting with '.'); it becomes a site folder and a URL segment`);
}

/** A Dockerfile (and so its build context, the Dockerfile's folder) must stay inside `folder`, symlinks resolved. */
export function checkInside(file: string, folder: string, given: string | undefined, source: YamlSource, path: FieldPath, problems: Problems): void {
  const shownFolder = relative(process.cwd(), folder) || folder;
  if (given !== undefined && isAbsolute(given)) {
    problems.add(`${source.at(path)}: dockerfile '${given}' is an absolute path; give it relative to ${shownFolder}`);
    return;
  }
  const real = (p: string) => { try { return realpathSync(p); } catch { return resolve(p); } };
  const root = real(folder);
  const target = existsSync(file) ? real(file) : join(real(dirname(file)), basename(file));
  if (target !== root && !target.startsWith(root + sep)) {
    problems.add(`${source.at(path)}: dockerfile '${given ?? relative(folder, file)}' resolves outside ${shownFolder} (to ${relative(process.cwd(), target) || target}); the Dockerfile and its build context must live in that folder`);
  }
}

export function checkUnique(images: Located[], problems: Problems): void {
  const names = new Map<string, Located>();
  const repos = new Map<string, Located>();
  for (const img of images) {
    const prevName = names.get(img.spec.name);
    if (prevName) problems.add(`${img.source.at([...img.path, 'name'])}: duplicate image name '${img.spec.name}' (also at ${prevName.spec.where})`);
    names.set(img.spec.name, img);
    const repoKey = `${img.spec.imageRepo}/${img.spec.repository}`;
    const prevRepo = repos.get(repoKey);
    if (prevRepo) problems.add(`${img.source.at([...img.path, 'repository'])}: duplicate repository '${img.spec.repository}' (also used by ${prevRepo.spec.name})`);
    repos.set(repoKey, img);
  }
}

export function checkReferences(images: Located[], problems: Problems): void {
  const byName = new Map(images.map((i) => [i.spec.name, i]));
  const names = [...byName.keys()].join(', ');
  for (const img of images) {
    for (const field of ['from', 'builder'] as const) {
      const ref = img.spec[field];
      if (ref === undefined) continue;
      const at = img.source.at([...img.path, field]);
      if (ref === UPSTREAM) {
        if (img.spec.kind !== 'base') problems.add(`${at}: only base images may be built FROM upstream; use a base such as eks-distro-minimal-base`);
        continue;
      }
      const parent = byName.get(ref);
      if (!parent) { problems.add(`${at}: unknown base or image '${ref}'; expected one of ${names}`); continue; }
      if (img.spec.kind === 'base' && parent.spec.kind !== 'base') problems.add(`${at}: a base cannot be built from the component image '${ref}'`);
      const missing = img.spec.platforms.filter((p) => !parent.spec.platforms.includes(p));
      if (missing.length) problems.add(`${img.source.at([...img.path, 'platforms'])}: ${ref} is not built for ${missing.join(', ')}`);
    }
  }
  const cycle = findCycle(images.map((i) => i.spec));
  if (cycle) {
    const first = byName.get(cycle[0]!)!;
    problems.add(`${first.source.at([...first.path, 'from'])}: dependency cycle ${cycle.join(' -> ')}`);
  }
}

/** In one channel, every image's parents must exist too (a component may exist in some channels only). */
export function checkChannelParents(channel: string, images: Located[], known: Set<string>, problems: Problems): void {
  const present = new Map(images.map((i) => [i.spec.name, i.spec]));
  for (const img of images) {
    for (const field of ['from', 'builder'] as const) {
      const ref = img.spec[field];
      if (ref === undefined || ref === UPSTREAM || present.has(ref) || !known.has(ref)) continue;
      problems.add(`${img.source.at([...img.path, field])}: ${img.spec.name} exists in channel ${channel} but its ${field} '${ref}' does not; add ${channel} to the channels of ${ref}'s component, or leave ${channel} out of ${img.spec.component}'s`);
    }
  }
}

function findCycle(images: ImageSpec[]): string[] | undefined {
  const byName = new Map(images.map((i) => [i.name, i]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const p of parentsOf(byName.get(name)!)) {
      if (!byName.has(p)) continue;
      const c = visit(p);
      if (c) return c;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const i of images) {
    const c = visit(i.name);
    if (c) return c;
  }
  return undefined;
}

/** Parents before children; ties broken by kind (bases first) then name, so the order is stable. */
export function topoSort(images: ImageSpec[]): ImageSpec[] {
  const done = new Set<string>();
  const out: ImageSpec[] = [];
  const rest = [...images].sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'base' ? -1 : 1));
  while (rest.length) {
    const i = rest.findIndex((img) => parentsOf(img).every((p) => done.has(p)));
    const [next] = rest.splice(i, 1);
    out.push(next!);
    done.add(next!.name);
  }
  return out;
}
