/**
 * Runs buildspec.yml on this machine the way CodeBuild runs it: the phases in order, each command in its
 * own bash with the buildspec's variables, a failed install or pre_build ending the build, a failed build
 * still running post_build with CODEBUILD_BUILD_SUCCEEDING=0.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './project.ts';

export interface Phase { 'runtime-versions'?: Record<string, unknown>; commands: string[]; 'on-failure'?: string; finally?: string[] }
export interface Buildspec {
  version: number | string;
  env?: { shell?: string; variables?: Record<string, unknown>; [k: string]: unknown };
  phases: Record<string, Phase>;
  artifacts?: { files: string[]; 'discard-paths'?: string };
  reports?: Record<string, unknown>;
}

export const SPEC_TEXT = readFileSync(join(REPO_ROOT, 'buildspec.yml'), 'utf8');
export const spec = parse(SPEC_TEXT) as Buildspec;
export const PHASES = ['install', 'pre_build', 'build', 'post_build'] as const;

export interface BuildRun { failedPhase?: string; exit: Record<string, number>; log: string }

function baseEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(EKSD_|GITHUB_|CODEBUILD_|FORCE_|AWS_)/.test(k)) env[k] = v;
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

export async function runBuildspec(cwd: string, overrides: Record<string, string>, phases: readonly string[] = PHASES): Promise<BuildRun> {
  const env = baseEnv(overrides);
  const result: BuildRun = { exit: {}, log: '' };
  let succeeding = '1';
  for (const name of phases) {
    const phase = spec.phases[name]!;
    let code = 0;
    for (const command of phase.commands) {
      const r = await bash(command, cwd, { ...env, CODEBUILD_BUILD_SUCCEEDING: env.CODEBUILD_BUILD_SUCCEEDING ?? succeeding });
      result.log += `[${name}] $ ${command.split('\n').find((l) => l.trim() && l.trim() !== 'set -euo pipefail')?.trim()}\n${r.out}`;
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
