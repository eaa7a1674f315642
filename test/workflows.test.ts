/**
 * The GitHub Actions workflows: every file parses, has the structure Actions needs (on, jobs, runs-on,
 * steps that either use an action or run a script), every `eksd` invocation in a run step is a real
 * command with real flags of our CLI, and the triggers, permissions and concurrency the README promises.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { commands } from '../pipeline/cli/commands/index.ts';
import { REPO_ROOT } from './helpers/project.ts';

interface Step { name?: string; id?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, unknown>; if?: string }
interface Job { 'runs-on': string; needs?: string | string[]; if?: string; outputs?: Record<string, string>; steps: Step[]; env?: Record<string, unknown>; container?: unknown }
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  env?: Record<string, unknown>;
  jobs: Record<string, Job>;
}

const DIR = join(REPO_ROOT, '.github', 'workflows');
const FILES = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort();
const workflows = new Map(FILES.map((f) => [f, parse(readFileSync(join(DIR, f), 'utf8')) as Workflow]));
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

test('the three workflows exist', (t) => {
  t.deepEqual(FILES, ['ci.yml', 'republish.yml', 'watch-base.yml']);
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
        if (s.uses) t.regex(s.uses, /^[\w.-]+\/[\w./-]+@v\d+$/, 'actions are pinned to a major version');
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

test('ci.yml: push and pull_request, Node 20, .ci/run', (t) => {
  const w = wf('ci.yml');
  t.true('push' in w.on && 'pull_request' in w.on);
  const all = steps(w);
  t.truthy(all.find((s) => s.uses?.startsWith('actions/checkout@')));
  t.is(String(all.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with?.['node-version']), '20');
  t.truthy(all.find((s) => s.run?.trim() === 'bash .ci/run'));
});

test('watch-base.yml: schedule + dispatch with force; watch exposes changed; release runs only then, with OIDC, per-channel concurrency, and commits the pin', (t) => {
  const w = wf('watch-base.yml');
  const schedule = w.on.schedule as Array<{ cron: string }>;
  t.true(Array.isArray(schedule) && schedule.length > 0);
  for (const s of schedule) t.is(s.cron.trim().split(/\s+/).length, 5, 'cron has five fields');
  const dispatch = w.on.workflow_dispatch as { inputs: Record<string, { type: string }> };
  t.is(dispatch.inputs.force?.type, 'boolean');
  t.like(w.permissions, { 'id-token': 'write', contents: 'write' });
  t.is(w.concurrency?.group, "eksd-release-${{ vars.EKSD_CHANNEL || '1-33' }}");
  t.false(w.concurrency?.['cancel-in-progress']);
  t.is(w.env?.EKSD_PROFILE, 'production');

  const watch = w.jobs.watch!;
  t.truthy(watch.outputs?.changed);
  const watchStep = watch.steps.find((s) => eksdInvocations(s.run ?? '').some((c) => c.command === 'watch-base'))!;
  t.truthy(watchStep);
  t.true(eksdInvocations(watchStep.run!).some((c) => c.command === 'watch-base' && c.flags.includes('write')));
  t.regex(watchStep.run!, /10\)/, 'exit code 10 (changed) does not fail the step');
  t.is(watch.outputs!.changed, `\${{ steps.${watchStep.id}.outputs.changed }}`);

  const release = Object.entries(w.jobs).find(([id]) => id !== 'watch')![1];
  t.is(release.needs, 'watch');
  t.is(release.if, "needs.watch.outputs.changed == 'true' || inputs.force");
  t.true(release.steps.some((s) => eksdInvocations(s.run ?? '').some((c) => c.command === 'release')));
  for (const job of [watch, release]) {
    const aws = job.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    t.truthy(aws?.with?.['role-to-assume'], 'credentials through OIDC role assumption');
    t.is(aws?.with?.['aws-secret-access-key'], undefined, 'no long-lived keys');
  }
  const commit = release.steps.find((s) => /git commit/.test(s.run ?? ''))!;
  t.truthy(commit);
  t.regex(commit.run!, /base\/pin\.yaml/);
  t.regex(commit.run!, /git push/);
  const order = release.steps.map((s) => s.run ?? '');
  t.true(order.findIndex((r) => /eksd\.js release/.test(r)) < order.findIndex((r) => /aws s3 sync "\$site/.test(r)), 'the site is synced after the release');
  t.true(order.findIndex((r) => /aws s3 sync "\$site/.test(r)) < order.findIndex((r) => /git commit/.test(r)), 'the pin is committed after the site is published');
});

test('republish.yml: dispatch with release, to, announce; OIDC; the same concurrency group; inputs reach eksd through the environment', (t) => {
  const w = wf('republish.yml');
  t.deepEqual(Object.keys(w.on), ['workflow_dispatch']);
  const inputs = (w.on.workflow_dispatch as { inputs: Record<string, { type: string; required?: boolean }> }).inputs;
  t.like(inputs.release, { type: 'string', required: true });
  t.is(inputs.to?.type, 'string');
  t.is(inputs.announce?.type, 'boolean');
  t.like(w.permissions, { 'id-token': 'write' });
  t.is(w.concurrency?.group, wf('watch-base.yml').concurrency?.group);
  t.false(w.concurrency?.['cancel-in-progress']);
  const all = steps(w);
  t.truthy(all.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'))?.with?.['role-to-assume']);
  const call = all.flatMap((s) => eksdInvocations(s.run ?? '')).find((c) => c.command === 'republish')!;
  t.truthy(call);
  t.deepEqual([...call.flags].sort(), ['announce', 'from', 'to']);
  for (const s of all) t.notRegex(s.run ?? '', /\$\{\{\s*inputs\./, 'inputs go through env, never pasted into a script');
});

test('README "Running in CI" explains the files, the variables, exit codes, forcing and republishing', (t) => {
  t.true(ciSection.length > 500, 'the section has content');
  for (const f of ['buildspec.yml', ...FILES]) t.true(ciSection.includes(f), f);
  for (const v of ['AWS_ROLE_ARN', 'ARTIFACT_BUCKET', 'EKSD_CHANNEL', 'EKSD_SNS_TOPIC_ARN', 'FORCE_RELEASE', 'GITHUB_STEP_SUMMARY', 'GITHUB_OUTPUT', 'MIRROR_USERNAME']) {
    t.true(ciSection.includes(v), v);
  }
  t.regex(ciSection, /\b10\b/, 'watch-base exit code 10');
  t.regex(ciSection, /eksd republish/);
  t.regex(ciSection, /force/i);
});
