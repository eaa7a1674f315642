/**
 * buildspec-batch.yml, the CodeBuild batch of a split release: its batch section uses only the keys
 * CodeBuild documents (batch-build-buildspec: fast-fail and one of build-graph, build-list, build-matrix,
 * build-fanout; a graph task's identifier, buildspec, depend-on, ignore-failure, debug-session and env
 * with compute-type, image, privileged-mode, type, variables), an amd64 build on LINUX_CONTAINER and an
 * arm64 build on ARM_CONTAINER, privileged, and a merge depending on both; its commands run in strict
 * bash, with commands and flags eksd has; the README names the batch's own service role.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { commands } from '../pipeline/cli/commands/index.ts';
import { REPO_ROOT } from './helpers/project.ts';

interface Task { identifier: string; 'depend-on'?: string[]; env: { type: string; image: string; 'compute-type': string; 'privileged-mode': boolean; variables: Record<string, unknown> } }
const TEXT = readFileSync(join(REPO_ROOT, 'buildspec-batch.yml'), 'utf8');
const spec = parse(TEXT) as { version: unknown; batch: Record<string, unknown> & { 'build-graph': Task[] }; env: { shell: string; variables: Record<string, unknown> }; phases: Record<string, { commands: string[] }> };
const graph = spec.batch['build-graph'];
const task = (id: string) => graph.find((t) => t.identifier === id)!;

const BATCH_KEYS = ['fast-fail', 'build-graph', 'build-list', 'build-matrix', 'build-fanout'];
const TASK_KEYS = ['identifier', 'buildspec', 'depend-on', 'ignore-failure', 'debug-session', 'env'];
const ENV_KEYS = ['compute-type', 'image', 'privileged-mode', 'type', 'variables'];

test('batch: only documented keys, one build-graph, fast-fail', (t) => {
  t.is(String(spec.version), '0.2');
  t.deepEqual(Object.keys(spec.batch).filter((k) => !BATCH_KEYS.includes(k)), []);
  t.is(Object.keys(spec.batch).filter((k) => k.startsWith('build-')).length, 1, 'one kind of batch');
  t.true(Array.isArray(graph));
  t.is(spec.batch['fast-fail'], true);
  for (const item of graph) {
    t.deepEqual(Object.keys(item).filter((k) => !TASK_KEYS.includes(k)), [], item.identifier);
    t.deepEqual(Object.keys(item.env).filter((k) => !ENV_KEYS.includes(k)), [], `${item.identifier}.env`);
    t.regex(item.identifier, /^[A-Za-z][A-Za-z0-9_]*$/, 'identifiers: letters, digits, underscores');
    t.true(item.env['privileged-mode'], `${item.identifier}: Docker builds need privileged mode`);
    for (const [k, v] of Object.entries(item.env.variables)) t.is(typeof v, 'string', `${item.identifier} ${k}`);
    for (const d of item['depend-on'] ?? []) t.truthy(task(d), `${item.identifier} depends on ${d}, which is in the graph`);
  }
  t.deepEqual(graph.map((i) => i.identifier), ['build_amd64', 'build_arm64', 'merge']);
});

test('an amd64 build on LINUX_CONTAINER, an arm64 build on ARM_CONTAINER, a merge depending on both', (t) => {
  t.like(task('build_amd64').env, { type: 'LINUX_CONTAINER', image: 'aws/codebuild/amazonlinux-x86_64-standard:5.0', variables: { EKSD_SPLIT_STEP: 'build', EKSD_PLATFORM: 'linux/amd64' } });
  t.like(task('build_arm64').env, { type: 'ARM_CONTAINER', image: 'aws/codebuild/amazonlinux-aarch64-standard:3.0', variables: { EKSD_SPLIT_STEP: 'build', EKSD_PLATFORM: 'linux/arm64' } });
  t.deepEqual(task('merge')['depend-on'], ['build_amd64', 'build_arm64']);
  t.like(task('merge').env, { variables: { EKSD_SPLIT_STEP: 'merge' } });
  t.is(task('build_amd64')['depend-on'], undefined);
  t.is(task('build_arm64')['depend-on'], undefined);
});

test('strict bash; the eksd commands and flags it runs exist', (t) => {
  t.is(spec.env.shell, 'bash');
  const all = Object.values(spec.phases).flatMap((p) => p.commands);
  for (const c of all) t.is(c.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#')), 'set -euo pipefail');
  const shell = all.join('\n');
  for (const m of shell.matchAll(/eksd\.js ([a-z-]+)((?: --?[a-z-]+| "[^"]*"| [a-z0-9/${}:.]+)*)/g)) {
    const command = commands.find((c) => c.name === m[1]);
    t.truthy(command, `eksd ${m[1]}`);
    for (const flag of m[2]!.match(/--[a-z-]+/g) ?? []) t.true(flag.slice(2) in (command?.options ?? {}), `eksd ${m[1]} ${flag}`);
  }
  t.regex(shell, /eksd\.js build --platform "\$\{EKSD_PLATFORM/);
  t.regex(shell, /eksd\.js release --merge "\$\{plan\}"/);
});

test('README: the batch, its own service role, the split both ways and the one-machine way', (t) => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const ci = readme.slice(readme.indexOf('## Running in CI'));
  t.regex(ci, /buildspec-batch\.yml/);
  t.regex(ci, /batch service role/i);
  t.regex(ci, /split-release\.yml/);
  t.regex(ci, /one machine/i);
});
