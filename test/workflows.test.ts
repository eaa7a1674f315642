/**
 * The GitHub Actions workflows: every file parses, has the structure Actions needs (on, jobs, runs-on,
 * steps that either use an action or run a script), runs every script in bash with `set -euo pipefail`,
 * pins every action to a full commit SHA, sets up a supported Node LTS, leaves all S3 work to eksd (no
 * aws CLI), every `eksd` invocation in a run step is a real command with real flags of our CLI, and the
 * triggers, permissions and concurrency the README promises. Also the shell linter CI runs over them.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { commands as productCommands } from '../pipeline/cli/commands/index.ts';
import { devCommands } from '../dev/commands/index.ts';
import { REPO_ROOT } from './helpers/project.ts';

const commands = [...productCommands, ...devCommands];

interface Defaults { run?: { shell?: string; 'working-directory'?: string } }
interface Step { name?: string; id?: string; uses?: string; run?: string; shell?: string; with?: Record<string, unknown>; env?: Record<string, unknown>; if?: string }
interface Job { 'runs-on': string; needs?: string | string[]; if?: string; outputs?: Record<string, string>; steps: Step[]; env?: Record<string, unknown>; container?: unknown; defaults?: Defaults }
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  defaults?: Defaults;
  env?: Record<string, unknown>;
  jobs: Record<string, Job>;
}

const DIR = join(REPO_ROOT, '.github', 'workflows');
const FILES = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort();
const workflows = new Map(FILES.map((f) => [f, parse(readFileSync(join(DIR, f), 'utf8')) as Workflow]));
const TEXTS = new Map(FILES.map((f) => [f, readFileSync(join(DIR, f), 'utf8')]));
const wf = (name: string): Workflow => workflows.get(name)!;
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);
const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const ciSection = readme.slice(readme.indexOf('## Running in CI'), readme.indexOf('\n## ', readme.indexOf('## Running in CI') + 5));

/** Joins backslash-continued lines, drops comments, splits shell lists: what each eksd call is given. */
export function eksdInvocations(script: string): Array<{ command: string; flags: string[]; text: string }> {
  const lines = script.replace(/\\\n/g, ' ').split('\n').map((l) => l.replace(/(^|\s)#.*$/, ''));
  const found: Array<{ command: string; flags: string[]; text: string }> = [];
  for (const line of lines) {
    for (const m of line.matchAll(/(?:^|[\s;&|(])(?:node\s+bin\/eksd\.js|npx\s+eksd|eksd)\s+([a-z][a-z-]*)([^;&|\n]*)/g)) {
      found.push({ command: m[1]!, flags: [...m[2]!.matchAll(/(?:^|[\s+:"'(])--([a-z][a-z0-9-]*)/g)].map((f) => f[1]!), text: m[0].trim() });
    }
  }
  return found;
}

test('the four workflows exist', (t) => {
  t.deepEqual(FILES, ['ci.yml', 'republish.yml', 'split-release.yml', 'watch-base.yml']);
});

test('split-release.yml: a matrix job per platform on native runners (ubuntu-24.04, ubuntu-24.04-arm), then one merge that needs it', (t) => {
  const w = wf('split-release.yml');
  const build = w.jobs.build as Job & { strategy: { 'fail-fast': boolean; matrix: { include: Array<{ platform: string; runner: string }> } } };
  t.deepEqual(build.strategy.matrix.include, [{ platform: 'linux/amd64', runner: 'ubuntu-24.04' }, { platform: 'linux/arm64', runner: 'ubuntu-24.04-arm' }]);
  t.is(build['runs-on'], '${{ matrix.runner }}');
  t.false(build.strategy['fail-fast'], 'one platform failing leaves the other to finish and record');
  t.regex(build.steps.map((s) => s.run ?? '').join('\n'), /eksd\.js build --platform "\$PLATFORM"/);
  const merge = w.jobs.merge!;
  t.is(merge.needs, 'build');
  const run = merge.steps.map((s) => s.run ?? '').join('\n');
  t.regex(run, /plan="\$\(node bin\/eksd\.js plan-id/);
  t.regex(run, /eksd\.js release --merge "\$\{plan\}"/);
  t.is(w.concurrency?.group, wf('watch-base.yml').concurrency?.group, 'one release at a time with the other release workflows');
  t.deepEqual(w.permissions, { 'id-token': 'write', contents: 'read' });
});

for (const file of FILES) {
  test(`${file}: on, jobs, runs-on, steps with uses or run`, (t) => {
    const w = wf(file);
    t.is(typeof w.name, 'string');
    t.true(w.on !== null && typeof w.on === 'object' && Object.keys(w.on).length > 0, 'on: is a mapping of events');
    for (const event of Object.keys(w.on)) t.true(['push', 'pull_request', 'schedule', 'workflow_dispatch'].includes(event), event);
    t.true(Object.keys(w.jobs).length > 0);
    for (const [id, job] of Object.entries(w.jobs)) {
      t.regex(id, /^[A-Za-z_][A-Za-z0-9_-]*$/);
      t.is(typeof job['runs-on'], 'string', `${id}.runs-on`);
      t.true(Array.isArray(job.steps) && job.steps.length > 0, `${id}.steps`);
      for (const needed of [job.needs ?? []].flat()) t.truthy(w.jobs[needed], `${id} needs ${needed}`);
      for (const s of job.steps) {
        t.true((s.uses === undefined) !== (s.run === undefined), `${id}: a step has uses or run (${JSON.stringify(s).slice(0, 80)})`);
        if (s.uses) t.regex(s.uses, /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/, `actions are pinned to a full commit SHA: ${s.uses}`);
        if (s.run) t.is(typeof s.run, 'string');
      }
      for (const [name, value] of Object.entries(job.outputs ?? {})) {
        const m = /^\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}$/.exec(value);
        t.truthy(m, `${id}.outputs.${name} reads a step output`);
        t.truthy(job.steps.find((s) => s.id === m![1]), `step ${m![1]} exists`);
      }
    }
  });

  test(`${file}: every eksd invocation is a real command with real flags`, (t) => {
    t.pass(`${file} scanned`);
    for (const s of steps(wf(file))) {
      for (const call of eksdInvocations(s.run ?? '')) {
        const command = commands.find((c) => c.name === call.command);
        t.truthy(command, `'${call.text}': eksd has a ${call.command} command`);
        if (!command) continue;
        for (const flag of call.flags) t.truthy(flag === 'help' || command.options[flag], `'${call.text}': eksd ${call.command} has --${flag}`);
      }
    }
  });
}

test('the invocation scanner sees commands, flags and conditional flags', (t) => {
  t.deepEqual(eksdInvocations('rc=0; node bin/eksd.js watch-base --write || rc=$?').map((c) => [c.command, c.flags]), [['watch-base', ['write']]]);
  t.deepEqual(eksdInvocations('node bin/eksd.js republish "$R" ${TO:+--to "$TO"} \\\n  ${A:+--announce} # --not-this').map((c) => [c.command, c.flags]), [['republish', ['to', 'announce']]]);
  t.deepEqual(eksdInvocations('echo ok; eksd release --events plain | tee x').map((c) => [c.command, c.flags]), [['release', ['events']]]);
});

/** The action releases the workflows pin: the commit each release tag points at. */
const PINS: Record<string, { sha: string; version: string }> = {
  'actions/checkout': { sha: '3d3c42e5aac5ba805825da76410c181273ba90b1', version: 'v7.0.1' },
  'actions/setup-node': { sha: '820762786026740c76f36085b0efc47a31fe5020', version: 'v7.0.0' },
  'actions/upload-artifact': { sha: 'bbbca2ddaa5d8feaa63e36b76fdaad77386f024f', version: 'v7.0.0' },
  'actions/download-artifact': { sha: '3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c', version: 'v8.0.1' },
  'aws-actions/configure-aws-credentials': { sha: 'e6de054238d6b7531b4efff3b6587d9aade6a06c', version: 'v6.2.3' },
  'docker/setup-qemu-action': { sha: '96fe6ef7f33517b61c61be40b68a1882f3264fb8', version: 'v4.2.0' },
};

/** The shell a run step gets: its own, its job's default, the workflow's default, else Actions' bash. */
const shellOf = (w: Workflow, job: Job, s: Step) => s.shell ?? job.defaults?.run?.shell ?? w.defaults?.run?.shell ?? 'bash';
const firstCommand = (script: string) => script.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));

for (const file of FILES) {
  test(`${file}: every action pinned by full commit SHA with its release in a comment, the SHAs of the pin table`, (t) => {
    const lines = TEXTS.get(file)!.split('\n').filter((l) => /^\s*(-\s+)?uses:/.test(l));
    t.true(lines.length > 0);
    for (const line of lines) {
      const m = /^\s*(?:-\s+)?uses:\s+([\w.-]+\/[\w.-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)\s*$/.exec(line);
      t.truthy(m, `uses: owner/repo@<40 hex> # vX.Y.Z: ${line.trim()}`);
      if (!m) continue;
      t.deepEqual({ sha: m[2], version: m[3] }, PINS[m[1]!], `${m[1]} is pinned to the release in the pin table`);
    }
  });

  test(`${file}: every run: is bash with set -euo pipefail`, (t) => {
    const w = wf(file);
    t.regex(w.defaults?.run?.shell ?? '', /^bash\b.*-euo pipefail.* \{0\}$/, 'defaults.run.shell is strict bash');
    let runs = 0;
    for (const job of Object.values(w.jobs)) {
      for (const s of job.steps) {
        if (s.run === undefined) continue;
        runs++;
        t.regex(shellOf(w, job, s), /^bash\b.*-euo pipefail/, `${s.name ?? s.run.slice(0, 40)}: shell`);
        t.is(firstCommand(s.run), 'set -euo pipefail', `${s.name ?? s.run.slice(0, 40)}: first command`);
      }
    }
    t.true(runs > 0);
  });

  test(`${file}: Node 22 or 24, no aws CLI, no S3 transfers in shell, no shared npm cache`, (t) => {
    const w = wf(file);
    const text = TEXTS.get(file)!;
    const nodes = steps(w).filter((s) => s.uses?.startsWith('actions/setup-node@'));
    t.true(nodes.length > 0);
    for (const s of nodes) {
      t.true(['22', '24'].includes(String(s.with?.['node-version'])), `node-version ${String(s.with?.['node-version'])}`);
      t.is(s.with?.cache, undefined, 'no npm cache');
      t.false(s.with?.['package-manager-cache'] as boolean, 'package-manager-cache: false');
    }
    t.notRegex(text, /\baws\s+s3(api)?\b/);
    for (const s of steps(w)) t.notRegex(s.run ?? '', /(^|[\s;&|(])aws\s/m, 'no aws CLI call');
    for (const gone of ['ARTIFACT_BUCKET', 'S3_ACL', 's3://', 'EKSD_FETCH_COMMAND', 'EKSD_SYNC_COMMAND']) t.false(text.includes(gone), gone);
    for (const s of steps(w).filter((x) => x.uses?.startsWith('actions/checkout@'))) t.false(s.with?.['persist-credentials'] as boolean, 'no token left in .git/config');
  });
}

test('the release workflows hand eksd the bucket configuration from repository variables', (t) => {
  for (const file of ['watch-base.yml', 'republish.yml']) {
    const env = wf(file).env ?? {};
    for (const v of ['EKSD_SITE_BUCKET', 'EKSD_SITE_PREFIX', 'EKSD_SITE_ACL', 'EKSD_S3_ENDPOINT', 'EKSD_LEASE_TTL']) {
      t.is(env[v], `\${{ vars.${v} }}`, `${file}: ${v}`);
    }
    const first = Object.values(wf(file).jobs)[0]!.steps[0]!;
    t.regex(first.run ?? '', /: "\$\{EKSD_SITE_BUCKET:\?/, `${file}: the first step stops when the bucket is not configured`);
  }
});

test('ci.yml: push and pull_request, Node 22, .ci/run in a privileged Debian 12 container', (t) => {
  const w = wf('ci.yml');
  t.true('push' in w.on && 'pull_request' in w.on);
  t.deepEqual(w.permissions, { contents: 'read' });
  const all = steps(w);
  t.truthy(all.find((s) => s.uses?.startsWith('actions/checkout@')));
  t.is(String(all.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with?.['node-version']), '22');
  t.truthy(all.find((s) => /^bash \.ci\/run$/m.test(s.run ?? '')));
  t.like(w.jobs.test?.container as object, { image: 'debian:12', options: '--privileged' });
});

test('watch-base.yml: schedule + dispatch with force; watch exposes changed; release runs every time (eksd decides per channel), with OIDC, one concurrency group; nothing committed', (t) => {
  const w = wf('watch-base.yml');
  const schedule = w.on.schedule as Array<{ cron: string }>;
  t.true(Array.isArray(schedule) && schedule.length > 0);
  for (const s of schedule) t.is(s.cron.trim().split(/\s+/).length, 5, 'cron has five fields');
  const dispatch = w.on.workflow_dispatch as { inputs: Record<string, { type: string }> };
  t.is(dispatch.inputs.force?.type, 'boolean');
  t.deepEqual(w.permissions, { 'id-token': 'write', contents: 'read' }, 'the pin lives in the bucket: no contents: write');
  t.is(w.concurrency?.group, "eksd-release-${{ vars.EKSD_CHANNEL || 'all' }}");
  t.false(w.concurrency?.['cancel-in-progress']);
  t.is(w.env?.EKSD_PROFILE, 'production');

  const watch = w.jobs.watch!;
  t.truthy(watch.outputs?.changed);
  const watchStep = watch.steps.find((s) => eksdInvocations(s.run ?? '').some((c) => c.command === 'watch-base'))!;
  t.truthy(watchStep);
  t.true(eksdInvocations(watchStep.run!).some((c) => c.command === 'watch-base' && c.flags.includes('write')));
  t.regex(watchStep.run!, /\|\| rc=\$\?/, 'a non-zero exit is caught, not fatal under set -e');
  t.regex(watchStep.run!, /10\)/, 'exit code 10 (changed) does not fail the step');
  t.regex(watchStep.run!, /\*\)\s.*exit "\$rc"/, 'any other exit code fails the step');
  t.is(watch.outputs!.changed, `\${{ steps.${watchStep.id}.outputs.changed }}`);
  const pinUpload = watch.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
  t.like(pinUpload?.with, { name: 'base-pin', path: 'base/pin.yaml' });
  t.true(watch.steps.indexOf(watchStep) < watch.steps.indexOf(pinUpload!));

  const release = Object.entries(w.jobs).find(([id]) => id !== 'watch')![1];
  t.is(release.needs, 'watch');
  t.is(release.if, undefined, 'the release runs every time: eksd decides per channel whether anything changed');
  const releaseStep = release.steps.find((s) => eksdInvocations(s.run ?? '').some((c) => c.command === 'release'))!;
  t.truthy(releaseStep);
  t.regex(releaseStep.run!, /\|\| rc=\$\?/);
  t.regex(releaseStep.run!, /4\)\s.*lease/, 'exit 4: another host holds the lease');
  const pinDownload = release.steps.find((s) => s.uses?.startsWith('actions/download-artifact@'));
  t.like(pinDownload?.with, { name: 'base-pin', path: 'base' });
  t.true(release.steps.indexOf(pinDownload!) < release.steps.indexOf(releaseStep), 'the pin arrives before the release');
  t.truthy(release.steps.find((s) => s.uses?.startsWith('docker/setup-qemu-action@')), 'qemu for arm64');
  for (const job of [watch, release]) {
    const aws = job.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    t.truthy(aws?.with?.['role-to-assume'], 'credentials through OIDC role assumption');
    t.is(aws?.with?.['aws-secret-access-key'], undefined, 'no long-lived keys');
    t.true(job.steps.indexOf(aws!) < job.steps.findIndex((s) => eksdInvocations(s.run ?? '').length > 0), 'credentials before eksd');
  }
  for (const s of steps(w)) t.notRegex(s.run ?? '', /\bgit\s+(commit|push)\b/, 'nothing is committed');
});

test('republish.yml: dispatch with release, to, announce; OIDC; the same concurrency group; inputs reach eksd through the environment', (t) => {
  const w = wf('republish.yml');
  t.deepEqual(Object.keys(w.on), ['workflow_dispatch']);
  const inputs = (w.on.workflow_dispatch as { inputs: Record<string, { type: string; required?: boolean }> }).inputs;
  t.like(inputs.release, { type: 'string', required: true });
  t.is(inputs.to?.type, 'string');
  t.is(inputs.announce?.type, 'boolean');
  t.deepEqual(w.permissions, { 'id-token': 'write', contents: 'read' });
  t.is(w.concurrency?.group, wf('watch-base.yml').concurrency?.group);
  t.false(w.concurrency?.['cancel-in-progress']);
  const all = steps(w);
  t.truthy(all.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'))?.with?.['role-to-assume']);
  const call = all.flatMap((s) => eksdInvocations(s.run ?? '')).find((c) => c.command === 'republish')!;
  t.truthy(call);
  t.deepEqual([...call.flags].sort(), ['announce', 'from', 'to']);
  for (const s of all) t.notRegex(s.run ?? '', /\$\{\{\s*inputs\./, 'inputs go through env, never pasted into a script');
  // The release name is checked, and names the channel eksd works on, before eksd runs.
  const check = all.findIndex((s) => /GITHUB_ENV/.test(s.run ?? ''));
  t.true(check >= 0);
  t.regex(all[check]!.run!, /\^kubernetes-\(\[0-9\]\+-\[0-9\]\+\)-eks-\[0-9\]\+\$/);
  t.regex(all[check]!.run!, /EKSD_CHANNEL=\$\{BASH_REMATCH\[1\]\}/);
  t.true(check < all.findIndex((s) => eksdInvocations(s.run ?? '').some((c) => c.command === 'republish')));
});

test('README "Running in CI" explains the files, the variables, exit codes, forcing, republishing and the linting', (t) => {
  t.true(ciSection.length > 500, 'the section has content');
  for (const f of ['buildspec.yml', ...FILES]) t.true(ciSection.includes(f), f);
  for (const v of ['AWS_ROLE_ARN', 'EKSD_SITE_BUCKET', 'EKSD_SITE_PREFIX', 'EKSD_SITE_ACL', 'EKSD_S3_ENDPOINT', 'EKSD_LEASE_TTL', 'EKSD_CHANNEL', 'EKSD_SNS_TOPIC_ARN', 'FORCE_RELEASE', 'GITHUB_STEP_SUMMARY', 'GITHUB_OUTPUT', 'MIRROR_USERNAME']) {
    t.true(ciSection.includes(v), v);
  }
  for (const gone of ['ARTIFACT_BUCKET', 'S3_ACL', 'EKSD_FETCH_COMMAND', 'EKSD_SYNC_COMMAND', 'aws s3']) t.false(readme.includes(gone), `README no longer mentions ${gone}`);
  t.regex(ciSection, /\b10\b/, 'watch-base exit code 10');
  t.regex(ciSection, /\b4\b/, 'release exit code 4');
  t.regex(ciSection, /eksd republish/);
  t.regex(ciSection, /force/i);
  t.regex(ciSection, /npm run lint/);
  t.regex(ciSection, /shellcheck/);
  t.regex(ciSection, /actionlint/);
});

// ---- the linters CI runs ----

const LINT_SHELL = join(REPO_ROOT, '.ci', 'lint-shell.mjs');
const ACTIONLINT = join(REPO_ROOT, 'node_modules', '@tktco', 'node-actionlint', 'bin', 'node-actionlint.js');
const hasShellcheck = spawnSync('shellcheck', ['--version']).status === 0;

/** A copy of the files the linters read, in a scratch directory. */
function lintFixture(t: { teardown(fn: () => void): void }): string {
  const root = mkdtempSync(join(tmpdir(), 'eksd-lint-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, '.ci'));
  cpSync(join(REPO_ROOT, '.ci', 'run'), join(root, '.ci', 'run'));
  cpSync(join(REPO_ROOT, 'buildspec.yml'), join(root, 'buildspec.yml'));
  cpSync(join(REPO_ROOT, 'buildspec-batch.yml'), join(root, 'buildspec-batch.yml'));
  cpSync(DIR, join(root, '.github', 'workflows'), { recursive: true });
  return root;
}

const node = (args: string[], cwd = REPO_ROOT) => spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });

test('lint-shell extracts every buildspec command and every run: step into its own file', (t) => {
  const keep = mkdtempSync(join(tmpdir(), 'eksd-lint-keep-'));
  t.teardown(() => rmSync(keep, { recursive: true, force: true }));
  node([LINT_SHELL, '--keep', keep]);
  const files = readdirSync(keep);
  const spec = parse(readFileSync(join(REPO_ROOT, 'buildspec.yml'), 'utf8')) as { phases: Record<string, { commands: string[] }> };
  const commandCount = Object.values(spec.phases).reduce((n, p) => n + p.commands.length, 0);
  const runCount = FILES.reduce((n, f) => n + steps(wf(f)).filter((s) => s.run !== undefined).length, 0);
  t.is(files.filter((f) => f.startsWith('buildspec.yml--')).length, commandCount);
  for (const f of FILES) t.is(files.filter((x) => x.startsWith(`${f}--`)).length, steps(wf(f)).filter((s) => s.run !== undefined).length, f);
  const batch = parse(readFileSync(join(REPO_ROOT, 'buildspec-batch.yml'), 'utf8')) as { phases: Record<string, { commands: string[] }> };
  const batchCount = Object.values(batch.phases).reduce((n, p) => n + p.commands.length, 0);
  t.is(files.filter((f) => f.startsWith('buildspec-batch.yml--')).length, batchCount);
  t.is(files.length, commandCount + batchCount + runCount + 1, 'plus .ci/run');
  // The same text that runs, with ${{ }} expressions blanked out.
  const pre = readFileSync(join(keep, 'buildspec.yml--pre_build--1.sh'), 'utf8');
  t.is(pre, spec.phases.pre_build!.commands[0]);
  for (const f of files) t.notRegex(readFileSync(join(keep, f), 'utf8'), /\$\{\{/);
});

test('lint-shell: the repository is clean; an unquoted variable and a missing set -euo pipefail are findings', (t) => {
  if (!hasShellcheck) { t.fail('shellcheck is not installed (apt-get install shellcheck); .ci/run installs it'); return; }
  const clean = node([LINT_SHELL]);
  t.is(clean.status, 0, clean.stdout + clean.stderr);

  const root = lintFixture(t);
  const spec = parse(readFileSync(join(root, 'buildspec.yml'), 'utf8')) as { phases: Record<string, { commands: string[] }> };
  spec.phases.post_build!.commands.push('set -euo pipefail\n# an unquoted variable\ncat out/ci/$EKSD_CHANNEL\n');
  spec.phases.post_build!.commands.push('echo no strict mode\n');
  writeFileSync(join(root, 'buildspec.yml'), stringify(spec));
  const file = join(root, '.github', 'workflows', 'ci.yml');
  const ci = parse(readFileSync(file, 'utf8')) as Workflow;
  ci.jobs.test!.steps.push({ name: 'Loose', run: 'echo "${{ github.ref }}"\n', shell: 'sh' });
  writeFileSync(file, stringify(ci));
  const r = node([LINT_SHELL, '--root', root]);
  t.is(r.status, 1, r.stdout + r.stderr);
  t.regex(r.stdout, /In buildspec\.yml phases\.post_build\.commands\[1\] line 3:[\s\S]*SC2086/);
  t.regex(r.stdout, /buildspec\.yml phases\.post_build\.commands\[2\]: does not start with `set -euo pipefail`/);
  t.regex(r.stdout, /ci\.yml jobs\.test\.steps\[3\] \(Loose\): runs in "sh", not bash/);
  t.regex(r.stdout, /ci\.yml jobs\.test\.steps\[3\] \(Loose\): does not start with `set -euo pipefail`/);
});

test('actionlint: the workflows are clean; an unknown job in needs and a bad expression are findings', (t) => {
  const clean = node([ACTIONLINT, '.github/workflows/*.{yml,yaml}']);
  t.is(clean.status, 0, clean.stdout + clean.stderr);
  t.regex(clean.stdout, new RegExp(`Checking ${FILES.length} workflow file`));

  const root = lintFixture(t);
  const file = join(root, '.github', 'workflows', 'watch-base.yml');
  const w = parse(readFileSync(file, 'utf8')) as Workflow;
  w.jobs.release!.needs = 'wach';
  w.jobs.watch!.outputs!.changed = '${{ steps.wach.outputs.changed }}';
  writeFileSync(file, stringify(w));
  const r = node([ACTIONLINT, '.github/workflows/*.{yml,yaml}'], root);
  t.is(r.status, 1, r.stdout + r.stderr);
  t.regex(r.stdout, /needs job "wach" which does not exist/);
  t.regex(r.stdout, /property "wach" is not defined/);
});
