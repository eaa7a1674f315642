/** The command line: help, exit codes, one-line causes with hints. */
import test from 'ava';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.ts';
import { commands as productCommands } from '../pipeline/cli/commands/index.ts';
import { devCommands } from '../dev/commands/index.ts';
import { REPO_ROOT } from './helpers/project.ts';
import { freshBuild, sourcesFingerprint } from '../bin/sources.js';

const commands = [...productCommands, ...devCommands];


test('--help lists every command and the exit codes; every command has --help', async (t) => {
  const top = await runCli(['--help']);
  t.is(top.code, 0);
  for (const c of commands) {
    t.true(top.out.includes(c.name));
    const help = await runCli([c.name, '--help']);
    t.is(help.code, 0, c.name);
    t.regex(help.out, /^Usage: eksd /);
  }
  t.regex(top.out, /Exit codes: 0 success, 1 failure, 2 bad input/);
});

test('unknown commands and flags exit 2 with a hint', async (t) => {
  const cmd = await runCli(['relase']);
  t.is(cmd.code, 2);
  t.regex(cmd.err, /unknown command 'relase'[\s\S]*hint: run 'eksd --help'/);
  const flag = await runCli(['catalog', '--jsn']);
  t.is(flag.code, 2);
  t.regex(flag.err, /--jsn[\s\S]*hint: run 'eksd catalog --help'/);
});

test('eksd catalog --channel 1-33 --json lists at least 18 images across 12 components, each for both platforms with its base or parent', async (t) => {
  const r = await runCli(['catalog', '--channel', '1-33', '--json']);
  t.is(r.code, 0);
  const catalog = JSON.parse(r.out) as { components: unknown[]; images: Array<{ kind: string; platforms: string[]; from: string }> };
  t.true(catalog.components.length >= 12);
  t.true(catalog.images.filter((i) => i.kind === 'image').length >= 18);
  t.true(catalog.images.every((i) => i.platforms.join() === 'linux/amd64,linux/arm64' && i.from.length > 0));
});

// serial: it changes the working directory of the whole process
test.serial('a catalog error exits 2 and names file, line and field', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'eksd-cli-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  cpSync(join(REPO_ROOT, 'base'), join(root, 'base'), { recursive: true });
  cpSync(join(REPO_ROOT, 'images'), join(root, 'images'), { recursive: true });
  const file = join(root, 'images', 'coredns', 'component.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('from: eks-distro-minimal-base', 'from: minimal'));
  const cwd = process.cwd();
  process.chdir(root);
  t.teardown(() => process.chdir(cwd));
  const r = await runCli(['catalog']);
  t.is(r.code, 2);
  t.regex(r.err, /CATALOG_INVALID: .*images\/coredns\/component\.yaml:\d+:\d+ images\[0\]\.from: unknown base or image 'minimal'/s);
  t.regex(r.err, /hint: /);
});

test('the compiled build runs only while it matches the sources it was built from', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'eksd-bin-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const dir of ['pipeline/cli', 'dev', 'config', 'schema', 'dist/dev']) mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, 'pipeline', 'cli', 'main.ts'), 'export const a = 1;\n');
  writeFileSync(join(root, 'pipeline', 'errors.ts'), 'export const b = 2;\n');
  writeFileSync(join(root, 'dev', 'cli.ts'), 'export const c = 3;\n');
  writeFileSync(join(root, 'config', 'local.yaml'), 'profile: local\n');
  t.is(freshBuild(root), undefined, 'no build');
  writeFileSync(join(root, 'dist', 'SOURCES'), `${sourcesFingerprint(root)}\n`);
  t.is(freshBuild(root), undefined, 'a stamp without the compiled entry point');
  writeFileSync(join(root, 'dist', 'dev', 'cli.js'), 'export const c = 3;\n');
  t.is(freshBuild(root), join(root, 'dist', 'dev', 'cli.js'));
  writeFileSync(join(root, 'pipeline', 'errors.ts'), 'export const b = 3;\n');
  t.is(freshBuild(root), undefined, 'a source changed after the build');
  writeFileSync(join(root, 'pipeline', 'errors.ts'), 'export const b = 2;\n');
  t.truthy(freshBuild(root), 'the same content again');
  writeFileSync(join(root, 'config', 'local.yaml'), 'profile: local # edited\n');
  t.is(freshBuild(root), undefined, 'a profile changed after the build');
  writeFileSync(join(root, 'config', 'local.yaml'), 'profile: local\n');
  t.truthy(freshBuild(root));
  writeFileSync(join(root, 'dev', 'new.ts'), '\n');
  t.is(freshBuild(root), undefined, 'a dev source added after the build');
  rmSync(join(root, 'dev', 'new.ts'));
  writeFileSync(join(root, 'pipeline', 'new.ts'), '\n');
  t.is(freshBuild(root), undefined, 'a source added after the build');
});
