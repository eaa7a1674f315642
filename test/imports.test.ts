/**
 * The import graph of the product, read with the TypeScript compiler's own import scanner: pipeline/
 * imports nothing from the local environment, the tests or the benchmarks, and has no import cycle.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from './helpers/project.ts';

const PIPELINE = join(REPO_ROOT, 'pipeline');
const files = readdirSync(PIPELINE, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(PIPELINE, f)).sort();

/** Relative imports (static, dynamic and type-only) of a file, resolved to absolute paths. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles.map((i) => i.fileName).filter((name) => name.startsWith('.')).map((name) => resolve(dirname(file), name));
}

const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f: string) => relative(REPO_ROOT, f);

test('the scanner sees the imports (static, dynamic, type-only)', (t) => {
  t.true(files.length > 50);
  const runner = graph.get(join(PIPELINE, 'app', 'runner.ts'))!.map(rel);
  t.true(runner.includes('pipeline/store/open.ts'));
  t.true(graph.get(join(PIPELINE, 'announce', 'release.ts'))!.map(rel).includes('pipeline/announce/sns.ts'), 'a dynamic import');
});

test('nothing under pipeline/ imports from outside it (dev/, test/, bench/, bin/)', (t) => {
  const outside = [...graph].flatMap(([f, deps]) => deps.filter((d) => !d.startsWith(`${PIPELINE}/`)).map((d) => `${rel(f)} -> ${rel(d)}`));
  t.deepEqual(outside, []);
});

test('imports flow one way: stages never import the loop, the journal or the commands (run/ and cli/)', (t) => {
  const upward = [...graph].filter(([f]) => f.startsWith(join(PIPELINE, 'stages') + '/'))
    .flatMap(([f, deps]) => deps.filter((d) => d.startsWith(join(PIPELINE, 'app') + '/') || d.startsWith(join(PIPELINE, 'cli') + '/')).map((d) => `${rel(f)} -> ${rel(d)}`));
  t.deepEqual(upward, []);
});

test('the import graph of pipeline/ has no cycle', (t) => {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (!graph.has(d)) continue;
      if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d].map(rel).join(' -> '));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  t.deepEqual(cycles, []);
});

test('the release model (release/) never imports announcing (announce/)', (t) => {
  const upward = [...graph].filter(([f]) => f.startsWith(join(PIPELINE, 'release') + '/'))
    .flatMap(([f, deps]) => deps.filter((d) => d.startsWith(join(PIPELINE, 'announce') + '/')).map((d) => `${rel(f)} -> ${rel(d)}`));
  t.deepEqual(upward, []);
});

test('the configuration (config/) imports nothing above it: no stage, release, run or command module', (t) => {
  const above = ['stages', 'release', 'site', 'app', 'cli', 'announce', 'publish', 'build', 'image'].map((d) => join(PIPELINE, d) + '/');
  const upward = [...graph].filter(([f]) => f.startsWith(join(PIPELINE, 'config') + '/'))
    .flatMap(([f, deps]) => deps.filter((d) => above.some((a) => d.startsWith(a))).map((d) => `${rel(f)} -> ${rel(d)}`));
  t.deepEqual(upward, []);
});

/** Imports from files under `from` (a folder or file of pipeline/) into `to`, as "a -> b" lines. */
function edges(from: string, to: (dep: string) => boolean): string[] {
  return [...graph].filter(([f]) => rel(f).startsWith(`pipeline/${from}`))
    .flatMap(([f, deps]) => deps.filter((d) => to(rel(d))).map((d) => `${rel(f)} -> ${rel(d)}`));
}
const under = (...folders: string[]) => (dep: string) => folders.some((f) => dep.startsWith(`pipeline/${f}`));

/**
 * The layers, lowest first: a module imports its own folder and the folders of lower layers, never a
 * higher one. The image value stands on util/ alone; builders, publishing and the site stand on the
 * model and the wire; stages on those; the app (the one place that builds adapters) on the stages; the
 * reports and commands on top.
 */
const LAYERS: Record<string, number> = {
  util: 0, 'errors.ts': 0, image: 1, config: 2, registry: 2, release: 2, aws: 2, sign: 2, catalog: 3, store: 3, resolve: 3,
  plan: 4, builders: 4, publish: 4, site: 4, announce: 4, attest: 4, stages: 5, app: 6, report: 7, cli: 8,
};
const folderOf = (file: string) => relative(PIPELINE, file).split('/')[0]!;

test('every folder of pipeline/ has a layer, and no import runs up the layers', (t) => {
  t.deepEqual([...new Set(files.map(folderOf))].filter((f) => LAYERS[f] === undefined), []);
  const upward = [...graph].flatMap(([f, deps]) => deps.filter((d) => graph.has(d) && LAYERS[folderOf(d)]! > LAYERS[folderOf(f)]!).map((d) => `${rel(f)} -> ${rel(d)}`));
  t.deepEqual(upward, []);
});

test('the image value (image/) imports nothing but util/', (t) => {
  t.deepEqual(edges('image/', (d) => !d.startsWith('pipeline/image/') && !d.startsWith('pipeline/util/')), []);
});

test('building never imports publishing, and publishing never imports building', (t) => {
  t.deepEqual(edges('builders/', under('publish/')), []);
  t.deepEqual(edges('publish/', under('builders/')), []);
});

test('stages import the builder port, never an adapter: the assembler and BuildKit are made in app/ alone', (t) => {
  const adapters = under('builders/assembler/', 'builders/buildkit/');
  t.deepEqual(edges('stages/', adapters), []);
  const outside = [...graph].filter(([f]) => !rel(f).startsWith('pipeline/builders/') && !rel(f).startsWith('pipeline/app/'))
    .flatMap(([f, deps]) => deps.filter((d) => adapters(rel(d))).map((d) => `${rel(f)} -> ${rel(d)}`));
  t.deepEqual(outside, []);
});
