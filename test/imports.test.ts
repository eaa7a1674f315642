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
