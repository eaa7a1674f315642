/**
 * buildspec.yml: its shape against what CodeBuild accepts, the strict shell and the eksd commands it is
 * made of (eksd does every S3 transfer: no aws CLI, no upload phase), and a run of its phases on this
 * machine the way CodeBuild runs them (in order, bash, each command on its own, post_build after a
 * failed build with CODEBUILD_BUILD_SUCCEEDING=0), with the local profile and no bucket: eksd keeps the
 * site and its state in its directory store, and the commands run exactly as written.
 */
import test from 'ava';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commands as productCommands } from '../pipeline/cli/commands/index.ts';
import { devCommands } from '../dev/commands/index.ts';
import { makeProject, REPO_ROOT, type TestProject } from './helpers/project.ts';
import { runWithEvents } from './helpers/crash.ts';
import { runBuildspec, spec, SPEC_TEXT, PHASES, type BuildRun } from './helpers/codebuild.ts';

const commands = [...productCommands, ...devCommands];

const phaseText = (name: string) => spec.phases[name]!.commands.join('\n');
/** The header comment: every line before `version:`. */
const HEADER = SPEC_TEXT.slice(0, SPEC_TEXT.indexOf('\nversion:'));
const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const ciSection = readme.slice(readme.indexOf('## Running in CI'), readme.indexOf('\n## ', readme.indexOf('## Running in CI') + 5));

const cleanups: Array<() => Promise<void>> = [];
test.after.always(async () => { await Promise.all(cleanups.map((c) => c())); });

test('schema: version 0.2, bash, string variables, the four phases with command lists, Node 22, artifacts', (t) => {
  t.is(String(spec.version), '0.2');
  t.deepEqual(Object.keys(spec).filter((k) => !['version', 'env', 'phases', 'artifacts', 'reports', 'cache', 'run-as', 'batch'].includes(k)), []);
  t.is(spec.env?.shell, 'bash');
  t.deepEqual(Object.keys(spec.env ?? {}).filter((k) => !['shell', 'variables', 'parameter-store', 'secrets-manager', 'exported-variables', 'git-credential-helper'].includes(k)), []);
  for (const [k, v] of Object.entries(spec.env?.variables ?? {})) t.is(typeof v, 'string', `env.variables.${k} must be a string for CodeBuild`);
  t.is(spec.env?.variables?.EKSD_PROFILE, 'production');
  t.is(spec.env?.variables?.FORCE_RELEASE, 'false');
  t.is(spec.env?.variables?.FORCE_REBUILD, 'false');
  t.deepEqual(Object.keys(spec.phases), [...PHASES]);
  for (const name of PHASES) {
    const phase = spec.phases[name]!;
    t.deepEqual(Object.keys(phase).filter((k) => !['run-as', 'on-failure', 'runtime-versions', 'commands', 'finally'].includes(k)), [], name);
    t.true(Array.isArray(phase.commands) && phase.commands.length > 0, `${name}.commands is a non-empty list`);
    for (const c of phase.commands) t.is(typeof c, 'string');
    if (name !== 'install') t.is(phase['runtime-versions'], undefined, 'runtime-versions only in install');
  }
  t.deepEqual(spec.phases.install!['runtime-versions'], { nodejs: 22 });
  t.true(spec.artifacts!.files.includes('out/site/**/*'));
  t.true(spec.artifacts!.files.includes('out/ci/release-summary.txt'));
});

test('strict shell: every command starts with set -euo pipefail', (t) => {
  for (const name of PHASES) {
    for (const [i, c] of [...spec.phases[name]!.commands, ...(spec.phases[name]!.finally ?? [])].entries()) {
      const first = c.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
      t.is(first, 'set -euo pipefail', `${name} command ${i + 1}`);
    }
  }
});

test('eksd does all the S3 work: no aws CLI, no replaced transfers, no ARTIFACT_BUCKET, no upload in post_build', (t) => {
  t.notRegex(SPEC_TEXT, /\baws\s+s3(api)?\b/, 'no aws s3 / s3api');
  const shell = PHASES.flatMap((p) => spec.phases[p]!.commands).join('\n');
  t.notRegex(shell, /(^|[\s;&|(])aws\s/m, 'no aws CLI call at all');
  for (const gone of ['ARTIFACT_BUCKET', 'S3_ACL', 'EKSD_FETCH_COMMAND', 'EKSD_SYNC_COMMAND', 's3://']) t.false(SPEC_TEXT.includes(gone), gone);
  const postCommands = phaseText('post_build').split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
  t.notRegex(postCommands, /eksd\.js|\baws\b|curl|\bcp\s/, 'post_build only reports');
  t.regex(phaseText('post_build'), /CODEBUILD_BUILD_SUCCEEDING/);
  t.regex(phaseText('post_build'), /cat out\/ci\/release-summary\.txt/);
});

test('the commands: npm ci + build, the Docker engine, binfmt, watch-base --write, release (--force), exit codes 10 and 4', (t) => {
  const install = phaseText('install');
  t.regex(install, /npm ci --no-audit --no-fund\n\s*npm run build/);
  t.regex(install, /EKSD_NPM_CI:-true/);
  t.regex(install, /curl -sf --max-time 10 --unix-socket "\$sock" http:\/\/localhost\/_ping/);
  t.regex(install, /node bin\/eksd\.js env up/);
  t.regex(install, /--install arm64/);
  t.regex(install, /EKSD_SITE_BUCKET/, 'the production profile needs the bucket');
  const pre = phaseText('pre_build');
  t.regex(pre, /node bin\/eksd\.js watch-base --write \|\| rc=\$\?/);
  t.regex(pre, /\b10\)/);
  t.notRegex(pre, /skip-release/, 'the engine decides per channel whether to release');
  const build = phaseText('build');
  t.regex(build, /node bin\/eksd\.js release --events plain "\$\{flags\[@\]\}" \| tee out\/ci\/release-summary\.txt \|\| rc=\$\?/);
  t.regex(build, /FORCE_REBUILD:-false\}" = true \]; then flags\+=\(--force\)/);
  t.regex(build, /FORCE_RELEASE:-false\}" = true \]; then flags\+=\(--release-unchanged\)/);
  t.regex(build, /\b4\)/, 'exit 4: the lease is held elsewhere');
  // Every eksd invocation names a real command and real flags.
  const all = PHASES.flatMap((p) => spec.phases[p]!.commands).join('\n');
  let count = 0;
  for (const m of all.matchAll(/node bin\/eksd\.js ([a-z-]+)([^\n|;&]*)/g)) {
    count++;
    const command = commands.find((c) => c.name === m[1]);
    t.truthy(command, `eksd ${m[1]} exists`);
    for (const f of m[2]!.matchAll(/--([a-z-]+)/g)) t.truthy(command!.options[f[1]!] ?? (f[1] === 'help' ? {} : undefined), `eksd ${m[1]} --${f[1]}`);
    if (m[1] === 'env') t.regex(m[2]!, /^ (up|status|seed)\b/);
  }
  t.is(count, 3, 'env up, watch-base, release');
  t.truthy(commands.find((c) => c.name === 'release')!.options.force, 'eksd release --force exists');
});

test('the header documents the bucket configuration and the README every variable the buildspec reads', (t) => {
  for (const v of ['EKSD_SITE_BUCKET', 'EKSD_SITE_PREFIX', 'EKSD_SITE_ACL', 'EKSD_S3_ENDPOINT', 'EKSD_LEASE_TTL', 'state/']) t.true(HEADER.includes(v), `header: ${v}`);
  const read = new Set([...SPEC_TEXT.matchAll(/\$\{([A-Z][A-Z0-9_]+)(?::[-?=])?/g)].map((m) => m[1]!).filter((v) => !v.startsWith('CODEBUILD_')));
  for (const v of Object.keys(spec.env?.variables ?? {})) read.add(v);
  for (const m of HEADER.matchAll(/^#\s{3}([A-Z][A-Z0-9_]+)\s/gm)) read.add(m[1]!);
  t.true(read.size >= 10);
  for (const v of read) t.true(ciSection.includes(v), `README "Running in CI" mentions ${v}`);
});

// ---- running it ----

/** A throwaway project as the checkout: its catalog, our CLI (bin/ resolves to this repository's build or sources). */
async function workspace(): Promise<{ p: TestProject; env: Record<string, string> }> {
  const p = await makeProject({ catalog: 'mini' });
  cleanups.push(() => p.cleanup());
  symlinkSync(join(REPO_ROOT, 'bin'), join(p.root, 'bin'));
  return { p, env: { EKSD_PROFILE: 'local', EKSD_CONFIG: p.configFile, EKSD_NPM_CI: 'false' } };
}

test('the production profile without EKSD_SITE_BUCKET stops at the first command', async (t) => {
  const { p } = await workspace();
  const r = await runBuildspec(p.root, { EKSD_NPM_CI: 'false' });
  t.is(r.failedPhase, 'install', r.log);
  t.is(r.exit.install, 2);
  t.deepEqual(Object.keys(r.exit), ['install']);
  t.regex(r.log, /EKSD_SITE_BUCKET is not set/);
});

test('a local run: the first build releases; with nothing changed the next releases nothing; FORCE_RELEASE releases; a new base releases the next number', async (t) => {
  const { p, env } = await workspace();
  await p.seed();
  const site = p.config().site.dir;
  const summary = () => readFile(join(p.root, 'out', 'ci', 'release-summary.txt'), 'utf8');

  const first = await runBuildspec(p.root, env);
  t.is(first.failedPhase, undefined, first.log);
  t.deepEqual(first.exit, { install: 0, pre_build: 0, build: 0, post_build: 0 });
  t.true(existsSync(join(site, 'kubernetes-1-33', 'kubernetes-1-33-eks-1.yaml')), first.log);
  t.true(existsSync(join(site, 'releasechannels', '1-33.yaml')));
  t.true(existsSync(join(site, 'crds', 'releases.distro.eks.amazonaws.com-v1alpha1.yaml')));
  t.regex(await summary(), /kubernetes-1-33-eks-1/);
  t.regex(first.log, /\[post_build\][\s\S]*kubernetes-1-33-eks-1/, 'post_build prints the summary');
  t.is((await p.eksd(['verify', 'kubernetes-1-33-eks-1'])).code, 0);

  const quiet = await runBuildspec(p.root, env);
  t.is(quiet.failedPhase, undefined, quiet.log);
  t.deepEqual(quiet.exit, { install: 0, pre_build: 0, build: 0, post_build: 0 });
  t.regex(quiet.log, /base unchanged/);
  t.regex(quiet.log, /\[post_build\][\s\S]*nothing changed since kubernetes-1-33-eks-1/, 'post_build prints the summary');
  t.false(existsSync(join(site, 'kubernetes-1-33', 'kubernetes-1-33-eks-2.yaml')), 'no release written');
  t.regex(await summary(), /nothing released/);

  const forced = await runBuildspec(p.root, { ...env, FORCE_RELEASE: 'true' });
  t.is(forced.failedPhase, undefined, forced.log);
  t.true(existsSync(join(site, 'kubernetes-1-33', 'kubernetes-1-33-eks-2.yaml')), forced.log);
  t.true(existsSync(join(site, 'releasechannels', '1-33.yaml')));
  t.true(existsSync(join(site, 'crds', 'releases.distro.eks.amazonaws.com-v1alpha1.yaml')));
  t.regex(await summary(), /kubernetes-1-33-eks-2/);

  // A new AL2 revision: watch-base sees it (exit 10), writes the pin, and the release is number 3.
  await p.seed({ update: true });
  const changed = await runBuildspec(p.root, env);
  t.is(changed.failedPhase, undefined, changed.log);
  t.regex(changed.log, /base changed: releasing/);
  t.true(existsSync(join(site, 'kubernetes-1-33', 'kubernetes-1-33-eks-3.yaml')), changed.log);
  t.regex(await readFile(join(site, 'releasechannels', '1-33.yaml'), 'utf8'), /latestRelease: 3/);
  t.true(existsSync(join(site, 'kubernetes-1-33', 'releases', '3', 'artifacts')));
  t.true(existsSync(join(site, 'kubernetes-1-33', 'releases', '3', 'index.md')), 'the release documents go with the manifest');
  const verify = await p.eksd(['verify', 'kubernetes-1-33-eks-3']);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
  // The pin was written by watch-base --write in pre_build.
  t.is((await p.eksd(['watch-base'])).code, 0);
});

test('a failing pre_build ends the build; post_build after a failed build says so', async (t) => {
  const { p, env } = await workspace();
  // Not seeded: the pinned upstream does not exist, watch-base exits 1.
  const broken = await runBuildspec(p.root, env);
  t.is(broken.failedPhase, 'pre_build', broken.log);
  t.is(broken.exit.pre_build, 1);
  t.false('build' in broken.exit, 'build never ran');
  t.regex(broken.log, /eksd watch-base failed with exit code 1/);

  await mkdir(join(p.root, 'out', 'ci'), { recursive: true });
  await writeFile(join(p.root, 'out', 'ci', 'release-summary.txt'), 'partial summary\n');
  const after = await runBuildspec(p.root, { ...env, CODEBUILD_BUILD_SUCCEEDING: '0' }, ['post_build']);
  t.is(after.failedPhase, undefined, after.log);
  t.regex(after.log, /the build failed: see the log of the build phase/);
  t.regex(after.log, /partial summary/);
});

test('build while another run holds the channel: exit 4, said in the log and the summary; post_build still reports', async (t) => {
  const { p, env } = await workspace();
  await p.seed();
  const install = await runBuildspec(p.root, env, ['install']);
  t.is(install.failedPhase, undefined, install.log);
  // A real release of the same channel, paused once it holds the channel, stands for the other host.
  let held: Promise<BuildRun> | undefined;
  const other = await runWithEvents(p, ['release'], {
    onEvent: (e, pid) => {
      if (held || e.type !== 'stage' || e.stage !== 'resolve' || e.state !== 'started') return;
      process.kill(pid, 'SIGSTOP');
      t.teardown(() => { try { process.kill(pid, 'SIGCONT'); } catch { /* already gone */ } });
      held = runBuildspec(p.root, env, ['build', 'post_build']);
      void held.finally(() => process.kill(pid, 'SIGCONT'));
    },
  });
  t.is(other.code, 0, other.stderr);
  t.truthy(held, 'the other run reached the resolve stage');
  const r = await held!;
  t.is(r.failedPhase, 'build', r.log);
  t.is(r.exit.build, 4);
  t.is(r.exit.post_build, 0);
  t.regex(r.log, /channel 1-33 is locked by pid \d+/);
  t.regex(r.log, /another host holds the lease of a channel: this build did not release it/);
  t.regex(await readFile(join(p.root, 'out', 'ci', 'release-summary.txt'), 'utf8'), /this build did not release it/);
  t.regex(r.log, /\[post_build\][\s\S]*the build failed/);
});
