/**
 * The plan id of a split release: a digest of everything the plan depends on (the catalog's files, the
 * base pin, each channel's release number, the flags that change what is built), so every job of one
 * batch computes the same id from the same checkout without talking to the others, and a merge can tell
 * jobs made from other inputs. Platforms are not in it: each job builds one platform of the same plan.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { UpstreamPin } from '../catalog/model.ts';
import { digestOf } from '../image/digest.ts';

export interface PlanIdInput {
  /** The project root: its images/ and base/ are the catalog. */
  root: string;
  pin: UpstreamPin;
  /** The release number of every selected channel. */
  numbers: Record<string, number>;
  force: boolean;
  assemble: boolean;
}

/** "plan-" and 16 hex digits of the sha256 of the inputs, written canonically. */
export function planIdOf(input: PlanIdInput): string {
  const canonical = JSON.stringify({
    catalog: catalogFiles(input.root),
    pin: { reference: input.pin.reference, digest: input.pin.digest ?? null, platforms: sorted(input.pin.platforms) },
    numbers: sorted(input.numbers),
    force: input.force,
    assemble: input.assemble,
  });
  return `plan-${digestOf(Buffer.from(canonical)).slice('sha256:'.length, 'sha256:'.length + 16)}`;
}

/** The digest of the catalog: every file of images/ and base/ with its content's digest. */
export function catalogDigest(root: string): string {
  return digestOf(Buffer.from(JSON.stringify(catalogFiles(root))));
}

/** Every file of images/ and base/, by path from the root, with its content's digest. */
function catalogFiles(root: string): Array<[string, string]> {
  return ['images', 'base'].flatMap((dir) => filesUnder(join(root, dir)))
    .map((file): [string, string] => [relative(root, file).split('\\').join('/'), digestOf(readFileSync(file))])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function filesUnder(dir: string): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  return names.flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function sorted<V>(o: Partial<Record<string, V>>): Array<[string, V]> {
  return Object.entries(o).filter((e): e is [string, V] => e[1] !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
