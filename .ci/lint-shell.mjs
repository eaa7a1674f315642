#!/usr/bin/env node
// Lints the shell that CI runs: every command of every phase of buildspec.yml and buildspec-batch.yml and every `run:` of every
// workflow under .github/workflows/ becomes its own bash file, checked by shellcheck with .ci/run. Each
// one must also start with `set -euo pipefail` (comments, blank lines and a shebang before it are fine),
// and a workflow step must run in bash. Exit 0 when everything is clean, 1 on findings, 2 when shellcheck cannot run.
//
//   node .ci/lint-shell.mjs [--root DIR] [--keep DIR]
//     --root  the checkout to lint (default: the one holding this script)
//     --keep  write the extracted scripts to DIR and leave them there
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STRICT = /^set -euo pipefail\s*$/;

/** The scripts CI runs, each with where it comes from. */
export function extractScripts(root = ROOT) {
  const scripts = [];
  // CI's own entry script, whole.
  scripts.push({ name: 'ci-run.sh', where: '.ci/run', shell: 'bash', text: readFileSync(join(root, '.ci', 'run'), 'utf8') });
  for (const file of ['buildspec.yml', 'buildspec-batch.yml']) {
    const spec = parse(readFileSync(join(root, file), 'utf8'));
    const specShell = spec?.env?.shell;
    for (const [phase, body] of Object.entries(spec?.phases ?? {})) {
      for (const list of ['commands', 'finally']) {
        (body?.[list] ?? []).forEach((command, i) => {
          scripts.push({
            name: `${file}--${phase}--${list === 'finally' ? 'finally-' : ''}${i + 1}.sh`,
            where: `${file} phases.${phase}.${list}[${i}]`,
            shell: specShell,
            text: String(command),
          });
        });
      }
    }
  }
  const dir = join(root, '.github', 'workflows');
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const wf = parse(readFileSync(join(dir, file), 'utf8'));
    for (const [jobId, job] of Object.entries(wf?.jobs ?? {})) {
      (job?.steps ?? []).forEach((step, i) => {
        if (typeof step?.run !== 'string') return;
        const label = String(step.name ?? step.id ?? `step-${i + 1}`).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
        scripts.push({
          name: `${file}--${jobId}--${i + 1}-${label}.sh`,
          where: `${file} jobs.${jobId}.steps[${i}]${step.name ? ` (${step.name})` : ''}`,
          shell: step.shell ?? job.defaults?.run?.shell ?? wf.defaults?.run?.shell ?? 'bash',
          // Actions expands ${{ }} before the shell runs; a same-length placeholder keeps columns right.
          text: step.run.replace(/\$\{\{[\s\S]*?\}\}/g, (m) => '_'.repeat(m.length)),
        });
      });
    }
  }
  return scripts;
}

/** What is wrong with a script before shellcheck looks at it: its shell, and its first command. */
export function strictModeProblems(script) {
  const problems = [];
  if (!/^bash(\s|$)/.test(String(script.shell ?? ''))) problems.push(`runs in ${JSON.stringify(script.shell ?? null)}, not bash`);
  const first = script.text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (!first || !STRICT.test(first)) problems.push(`does not start with \`set -euo pipefail\` (first command: ${JSON.stringify(first ?? '')})`);
  return problems;
}

function main(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!['--root', '--keep'].includes(argv[i]) || argv[i + 1] === undefined) {
      console.error('usage: node .ci/lint-shell.mjs [--root DIR] [--keep DIR]');
      return 2;
    }
    opts[argv[i].slice(2)] = resolve(argv[i + 1]);
  }
  const keep = opts.keep;
  const out = keep ?? mkdtempSync(join(tmpdir(), 'eksd-lint-shell-'));
  mkdirSync(out, { recursive: true });
  try {
    const scripts = extractScripts(opts.root ?? ROOT);
    let findings = 0;
    for (const s of scripts) {
      for (const p of strictModeProblems(s)) {
        console.log(`${s.where}: ${p}`);
        findings++;
      }
      // No shebang: shellcheck's line numbers are the command's own (--shell=bash says which shell).
      writeFileSync(join(out, s.name), s.text.endsWith('\n') ? s.text : `${s.text}\n`);
    }
    const files = scripts.map((s) => s.name);
    const r = spawnSync('shellcheck', ['--shell=bash', '--color=never', ...files], { cwd: out, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    if (r.error) {
      console.error(`lint-shell: cannot run shellcheck (${r.error.message}); install it, e.g. apt-get install shellcheck`);
      return 2;
    }
    // shellcheck names the extracted file; say where in the repository it comes from.
    let report = r.stdout ?? '';
    for (const s of scripts) report = report.replaceAll(`In ${s.name} line `, `In ${s.where} line `);
    process.stdout.write(report);
    if (r.stderr) process.stderr.write(r.stderr);
    if (r.status !== 0 && r.status !== 1) return 2;
    const shellcheckFindings = r.status === 1;
    const where = keep ? relative(process.cwd(), out) || '.' : 'a temporary directory';
    if (findings > 0 || shellcheckFindings) {
      console.log(`lint-shell: findings in the shell of buildspec.yml, the workflows or .ci/run (${scripts.length} scripts, extracted to ${where})`);
      return 1;
    }
    console.log(`lint-shell: ${scripts.length} scripts from buildspec.yml, buildspec-batch.yml, .github/workflows/ and .ci/run are clean (shellcheck, set -euo pipefail)`);
    return 0;
  } finally {
    if (!keep) rmSync(out, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
