/**
 * buildspec.yml: its shape against what CodeBuild accepts, and a run of its phases on this machine the
 * way CodeBuild runs them (in order, bash, each command on its own, post_build after a failed build
 * with CODEBUILD_BUILD_SUCCEEDING=0), with the local profile, a throwaway project and the S3 transfers
 * replaced by copies to and from a directory standing in for the bucket.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { commands } from '../pipeline/cli/commands/index.ts';
import { makeProject, REPO_ROOT, type TestProject } from './helpers/project.ts';

interface Phase { 'runtime-versions'?: Record<string, unknown>; commands: string[]; 'on-failure'?: string; finally?: string[] }
interface Buildspec {
  version: number | string;
  env?: { shell?: string; variables?: Record<string, unknown>; [k: string]: unknown };
  phases: Record<string, Phase>;
  artifacts?: { files: string[]; 'discard-paths'?: string };
  reports?: Record<string, unknown>;
}

const SPEC_TEXT = readFileSync(join(REPO_ROOT, 'buildspec.yml'), 'utf8');
const spec = parse(SPEC_TEXT) as Buildspec;
const PHASES = ['install', 'pre_build', 'build', 'post_build'] as const;

const cleanups: Array<() => Promise<void>> = [];
test.after.always(async () => { await Promise.all(cleanups.map((c) => c())); });

test('schema: version 0.2, bash, string variables, the four phases with command lists, artifacts', (t) => {
  t.is(String(spec.version), '0.2');
  t.deepEqual(Object.keys(spec).filter((k) => !['version', 'env', 'phases', 'artifacts', 'reports', 'cache', 'run-as', 'batch'].includes(k)), []);
  t.is(spec.env?.shell, 'bash');
  t.deepEqual(Object.keys(spec.env ?? {}).filter((k) => !['shell', 'variables', 'parameter-store', 'secrets-manager', 'exported-variables', 'git-credential-helper'].includes(k)), []);
  for (const [k, v] of Object.entries(spec.env?.variables ?? {})) t.is(typeof v, 'string', `env.variables.${k} must be a string for CodeBuild`);
  t.is(spec.env?.variables?.EKSD_PROFILE, 'production');
  t.is(spec.env?.variables?.FORCE_RELEASE, 'false');
  t.deepEqual(Object.keys(spec.phases), [...PHASES]);
  for (const name of PHASES) {
    const phase = spec.phases[name]!;
    t.deepEqual(Object.keys(phase).filter((k) => !['run-as', 'on-failure', 'runtime-versions', 'commands', 'finally'].includes(k)), [], name);
    t.true(Array.isArray(phase.commands) && phase.commands.length > 0, `${name}.commands is a non-empty list`);
    for (const c of phase.commands) t.is(typeof c, 'string');
    if (name !== 'install') t.is(phase['runtime-versions'], undefined, 'runtime-versions only in install');
  }
  t.is(String(spec.phases.install!['runtime-versions']?.nodejs), '20');
  t.true(spec.artifacts!.files.includes('out/site/**/*'));
  t.true(spec.artifacts!.files.includes('out/ci/release-summary.txt'));
});

test('the commands: npm ci, watch-base --write, release with the production profile, write-once S3 uploads', (t) => {
  const all = PHASES.flatMap((p) => spec.phases[p]!.commands).join('\n');
  t.regex(spec.phases.install!.commands.join('\n'), /npm ci/);
  t.regex(spec.phases.install!.commands.join('\n'), /node bin\/eksd\.js env up/);
  t.regex(spec.phases.pre_build!.commands.join('\n'), /node bin\/eksd\.js watch-base --write/);
  t.regex(spec.phases.build!.commands.join('\n'), /node bin\/eksd\.js release/);
  const post = spec.phases.post_build!.commands.join('\n');
  t.regex(post, /aws s3 sync "\$site\/kubernetes-\$ch\/releases\/"/);
  t.regex(post, /aws s3 ls "\$b\/\$1" .*\|\|.*aws s3 cp|if aws s3 ls "\$b\/\$1" >\/dev\/null; then .*else aws s3 cp/);
  t.regex(post, /aws s3 cp "\$site\/releasechannels\/\$ch\.yaml"/);
  // Every eksd invocation names a real command and real flags.
  for (const m of all.matchAll(/node bin\/eksd\.js ([a-z-]+)([^\n|;&]*)/g)) {
    const command = commands.find((c) => c.name === m[1]);
    t.truthy(command, `eksd ${m[1]} exists`);
    for (const f of m[2]!.matchAll(/--([a-z-]+)/g)) t.truthy(command!.options[f[1]!] ?? (f[1] === 'help' ? {} : undefined), `eksd ${m[1]} --${f[1]}`);
    if (m[1] === 'env') t.regex(m[2]!, /^ (up|status|seed)\b/);
  }
});

test('README documents every variable the buildspec reads', (t) => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const ci = readme.slice(readme.indexOf('## Running in CI'), readme.indexOf('\n## ', readme.indexOf('## Running in CI') + 5));
  const read = new Set([...SPEC_TEXT.matchAll(/\$\{([A-Z][A-Z0-9_]+)(?::[-?=])?/g)].map((m) => m[1]!).filter((v) => !v.startsWith('CODEBUILD_')));
  for (const v of Object.keys(spec.env?.variables ?? {})) if (!v.startsWith('AWS_SDK_')) read.add(v);
  for (const v of read) t.true(ci.includes(v), `README "Running in CI" mentions ${v}`);
});

// ---- running it ----

interface RunResult { failedPhase?: string; exit: Record<string, number>; log: string }

function baseEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(EKSD_|GITHUB_|CODEBUILD_|FORCE_)/.test(k)) env[k] = v;
  for (const [k, v] of Object.entries(spec.env?.variables ?? {})) env[k] = String(v);
  return { ...env, CI: 'true', ...overrides };
}

function bash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

/** CodeBuild's phase transitions: install/pre_build failures end the build; build failures still run post_build. */
async function runBuildspec(cwd: string, overrides: Record<string, string>, phases: readonly string[] = PHASES): Promise<RunResult> {
  const env = baseEnv(overrides);
  const result: RunResult = { exit: {}, log: '' };
  let succeeding = '1';
  for (const name of phases) {
    const phase = spec.phases[name]!;
    let code = 0;
    for (const command of phase.commands) {
      const r = await bash(command, cwd, { ...env, CODEBUILD_BUILD_SUCCEEDING: env.CODEBUILD_BUILD_SUCCEEDING ?? succeeding });
      result.log += `[${name}] $ ${command.split('\n')[0]}\n${r.out}`;
      code = r.code;
      if (code !== 0) break;
    }
    result.exit[name] = code;
    if (code !== 0) {
      result.failedPhase ??= name;
      if (name !== 'build') break;
      succeeding = '0';
    }
  }
  return result;
}

async function workspace(): Promise<{ p: TestProject; bucket: string; env: Record<string, string> }> {
  const p = await makeProject({ catalog: 'mini' });
  cleanups.push(() => p.cleanup());
  // The project is the checkout: its catalog, our CLI (bin/ resolves to this repository's sources).
  symlinkSync(join(REPO_ROOT, 'bin'), join(p.root, 'bin'));
  const bucket = join(await mkdtemp(join(tmpdir(), 'eksd-bucket-')), 'bucket');
  cleanups.push(() => rm(join(bucket, '..'), { recursive: true, force: true }));
  return {
    p, bucket,
    env: {
      EKSD_PROFILE: 'local',
      EKSD_CONFIG: p.configFile,
      EKSD_NPM_CI: 'false',
      FAKE_BUCKET: bucket,
      EKSD_FETCH_COMMAND: 'if [ -d "$FAKE_BUCKET" ]; then cp -R "$FAKE_BUCKET/." "$SITE_DIR/"; fi',
      EKSD_SYNC_COMMAND: 'mkdir -p "$FAKE_BUCKET" && cp -R "$SITE_DIR/." "$FAKE_BUCKET/"',
    },
  };
}

test('a local run: unchanged base releases nothing; FORCE_RELEASE releases; a new base on a fresh checkout releases the next number', async (t) => {
  const { p, bucket, env } = await workspace();
  await p.seed();
  const site = p.config().site.dir;

  const quiet = await runBuildspec(p.root, env);
  t.is(quiet.failedPhase, undefined, quiet.log);
  t.regex(quiet.log, /base unchanged: nothing to release/);
  t.regex(quiet.log, /nothing released: nothing to sync/);
  t.false(existsSync(join(site, 'kubernetes-1-33')), 'no release written');
  t.false(existsSync(bucket), 'nothing synced');
  t.regex(await readFile(join(p.root, 'out', 'ci', 'release-summary.txt'), 'utf8'), /nothing released/);

  const forced = await runBuildspec(p.root, { ...env, FORCE_RELEASE: 'true' });
  t.is(forced.failedPhase, undefined, forced.log);
  t.regex(forced.log, /FORCE_RELEASE=true: releasing anyway/);
  t.true(existsSync(join(bucket, 'kubernetes-1-33', 'kubernetes-1-33-eks-1.yaml')), forced.log);
  t.true(existsSync(join(bucket, 'releasechannels', '1-33.yaml')));
  t.true(existsSync(join(bucket, 'crds', 'releases.distro.eks.amazonaws.com-v1alpha1.yaml')));
  t.regex(await readFile(join(p.root, 'out', 'ci', 'release-summary.txt'), 'utf8'), /kubernetes-1-33-eks-1/);
  t.is((await p.eksd(['verify', 'kubernetes-1-33-eks-1'])).code, 0);

  // A new AL2 revision, and a fresh workspace (CodeBuild starts from a clean checkout): the published
  // manifests come back from the bucket, so the next release is number 2.
  await rm(site, { recursive: true, force: true });
  await p.seed({ update: true });
  const changed = await runBuildspec(p.root, env);
  t.is(changed.failedPhase, undefined, changed.log);
  t.regex(changed.log, /base changed: releasing/);
  t.true(existsSync(join(bucket, 'kubernetes-1-33', 'kubernetes-1-33-eks-2.yaml')), changed.log);
  t.regex(await readFile(join(bucket, 'releasechannels', '1-33.yaml'), 'utf8'), /latestRelease: 2/);
  t.true(existsSync(join(bucket, 'kubernetes-1-33', 'releases', '2', 'artifacts')));
  const verify = await p.eksd(['verify', 'kubernetes-1-33-eks-2']);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
  // The pin was written by watch-base --write in pre_build.
  t.is((await p.eksd(['watch-base'])).code, 0);
});

test('a failing pre_build ends the build; a failed build publishes nothing', async (t) => {
  const { p, bucket, env } = await workspace();
  // Not seeded: the pinned upstream does not exist, watch-base exits 1.
  const broken = await runBuildspec(p.root, env);
  t.is(broken.failedPhase, 'pre_build', broken.log);
  t.is(broken.exit.pre_build, 1);
  t.false('build' in broken.exit, 'build never ran');
  t.regex(broken.log, /eksd watch-base failed with exit code 1/);

  // post_build after a failed build: the site stays local.
  const site = p.config().site.dir;
  await mkdir(join(site, 'kubernetes-1-33'), { recursive: true });
  await writeFile(join(site, 'kubernetes-1-33', 'kubernetes-1-33-eks-1.yaml'), 'unverified\n');
  await mkdir(join(p.root, 'out', 'ci'), { recursive: true });
  const after = await runBuildspec(p.root, { ...env, CODEBUILD_BUILD_SUCCEEDING: '0' }, ['post_build']);
  t.is(after.failedPhase, undefined, after.log);
  t.regex(after.log, /the build failed: the site is not synced/);
  t.false(existsSync(bucket));
});
