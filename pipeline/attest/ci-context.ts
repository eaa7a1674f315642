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

/** The commit of this repository the release is made from, as the CI (or EKSD_BUILD_REPO_COMMIT) tells it. */
export function sourceCommit(env: Env): string | undefined {
  return env.EKSD_BUILD_REPO_COMMIT || env.CODEBUILD_RESOLVED_SOURCE_VERSION || env.GITHUB_SHA || undefined;
}

export function sourceFrom(env: Env, commit = sourceCommit(env)): { repository: string; ref: string; commit?: string } {
  const withCommit = commit ? { commit } : {};
  if (isGitHub(env)) return { repository: `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}`, ref: env.GITHUB_REF ?? 'unknown', ...withCommit };
  if (isCodeBuild(env)) {
    const ref = env.CODEBUILD_WEBHOOK_HEAD_REF || env.CODEBUILD_SOURCE_VERSION || 'unknown';
    return { repository: env.CODEBUILD_SOURCE_REPO_URL || 'unknown', ref, ...withCommit };
  }
  return { repository: 'local', ref: 'unknown', ...withCommit };
}

function gitHubRun(env: Env): { builderId: string; invocationId?: string } {
  const server = env.GITHUB_SERVER_URL!;
  // GITHUB_WORKFLOW_REF names the workflow file and ref; without it (an older runner) the repository does.
  const workflowRef = env.GITHUB_WORKFLOW_REF || env.GITHUB_REPOSITORY!;
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
