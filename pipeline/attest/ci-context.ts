/**
 * Who ran a build and from which source, read from the CI environment: GitHub Actions (the workflow
 * ref and run), AWS CodeBuild (the project ARN and build ARN), or this host when neither.
 */
import { EksdError } from '../errors.ts';

export interface RunDetails {
  builderId: string;
  invocationId?: string;
  startedOn: string;
  finishedOn: string;
}

type Env = NodeJS.ProcessEnv;

const isGitHub = (env: Env) => Boolean(env.GITHUB_ACTIONS === 'true' && env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY);
const isCodeBuild = (env: Env) => Boolean(env.CODEBUILD_BUILD_ARN);

export function runDetailsFrom(env: Env, times: { startedOn: string; finishedOn: string }, hostname: string): RunDetails {
  if (isGitHub(env)) return { ...gitHubRun(env), ...times };
  if (isCodeBuild(env)) return { builderId: codeBuildProjectArn(env.CODEBUILD_BUILD_ARN!), invocationId: env.CODEBUILD_BUILD_ARN!, ...times };
  return { builderId: `eksd://${hostname}`, ...times };
}

export function sourceFrom(env: Env, commit?: string): { repository: string; ref: string; commit?: string } {
  if (isGitHub(env)) {
    const found = commit ?? env.GITHUB_SHA;
    return { repository: `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}`, ref: env.GITHUB_REF ?? 'unknown', ...(found ? { commit: found } : {}) };
  }
  if (isCodeBuild(env)) {
    const found = commit ?? env.CODEBUILD_RESOLVED_SOURCE_VERSION;
    const ref = env.CODEBUILD_WEBHOOK_HEAD_REF || env.CODEBUILD_SOURCE_VERSION || 'unknown';
    return { repository: env.CODEBUILD_SOURCE_REPO_URL || 'unknown', ref, ...(found ? { commit: found } : {}) };
  }
  return { repository: 'local', ref: 'unknown', ...(commit ? { commit } : {}) };
}

function gitHubRun(env: Env): { builderId: string; invocationId?: string } {
  const server = env.GITHUB_SERVER_URL!;
  const workflowRef = env.GITHUB_WORKFLOW_REF;
  if (!workflowRef) {
    throw new EksdError('ATTEST_CI_CONTEXT', 'GitHub Actions is running this build but GITHUB_WORKFLOW_REF is not set', {
      where: 'environment',
      hint: 'run eksd inside a workflow job step, where GitHub sets GITHUB_WORKFLOW_REF',
    });
  }
  const runId = env.GITHUB_RUN_ID;
  const invocationId = runId ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${runId}/attempts/${env.GITHUB_RUN_ATTEMPT || '1'}` : undefined;
  return { builderId: `${server}/${workflowRef}`, ...(invocationId ? { invocationId } : {}) };
}

/** arn:<partition>:codebuild:<region>:<account>:build/<project>:<id> → arn:…:project/<project>. */
export function codeBuildProjectArn(buildArn: string): string {
  const m = /^(arn:[^:]+:codebuild:[^:]+:[^:]+:)build\/([^:]+):.+$/.exec(buildArn);
  if (!m) {
    throw new EksdError('ATTEST_CI_CONTEXT', `CODEBUILD_BUILD_ARN '${buildArn}' is not a CodeBuild build ARN`, {
      where: 'environment CODEBUILD_BUILD_ARN',
      hint: "expected arn:aws:codebuild:<region>:<account>:build/<project>:<build id>, as CodeBuild sets it",
    });
  }
  return `${m[1]}project/${m[2]}`;
}
