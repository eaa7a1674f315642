/**
 * SLSA v1 provenance of one platform image, as an in-toto statement. Everything but runDetails is a
 * pure function of the release's inputs (sorted, no times), so a split run and a one-machine run say
 * the same; runDetails names the CI run that made it.
 */
import { digestSet, PREDICATE, statement, type Statement, type Subject } from './statement.ts';
import type { RunDetails } from './ci-context.ts';

export { runDetailsFrom, sourceFrom, type RunDetails } from './ci-context.ts';

/** The build type of eksd provenance; docs/build-type.md says what each field means. */
export const BUILD_TYPE = 'https://github.com/eksd-release/eksd-release/blob/main/docs/build-type.md';

export interface ProvenanceInput {
  subject: Subject;
  channel: string;
  release: number;
  planId?: string;
  platform: string;
  source: { repository: string; ref: string; commit?: string };
  catalog: { uri: string; digest: string };
  build: { path: string; key: string; engine?: string };
  parent?: { uri: string; digest: string };
  /** `name` identifies an artifact whatever release's URL it has: project/gitTag/path, as the Release manifest's archive URIs end. */
  artifacts: { name?: string; uri: string; sha256: string; sha512: string }[];
  run: RunDetails;
}

export interface ResourceDescriptor {
  uri: string;
  digest: Record<string, string>;
  name?: string;
}

/** The name of the parent image's entry among the resolved dependencies. */
export const PARENT_DEPENDENCY = 'parent';

export function makeProvenance(input: ProvenanceInput): Statement {
  return statement(input.subject, PREDICATE.provenance, {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters: externalParameters(input),
      internalParameters: {
        buildPath: input.build.path,
        buildKey: input.build.key,
        ...(input.build.engine ? { engine: input.build.engine } : {}),
      },
      resolvedDependencies: resolvedDependencies(input),
    },
    runDetails: {
      builder: { id: input.run.builderId },
      metadata: {
        ...(input.run.invocationId ? { invocationId: input.run.invocationId } : {}),
        startedOn: input.run.startedOn,
        finishedOn: input.run.finishedOn,
      },
    },
  });
}

function externalParameters(input: ProvenanceInput): Record<string, unknown> {
  return {
    channel: input.channel,
    release: input.release,
    ...(input.planId ? { planId: input.planId } : {}),
    platform: input.platform,
    source: { repository: input.source.repository, ref: input.source.ref },
    catalog: { uri: input.catalog.uri, digest: digestSet(input.catalog.digest, `catalog ${input.catalog.uri}`) },
  };
}

/** The source commit, the parent image and every artifact, sorted by URI (then by digest). */
export function resolvedDependencies(input: Pick<ProvenanceInput, 'source' | 'parent' | 'artifacts'>): ResourceDescriptor[] {
  const deps: ResourceDescriptor[] = [];
  const { repository, ref, commit } = input.source;
  if (commit) deps.push({ uri: `git+${repository}@${ref}`, digest: { gitCommit: commit } });
  if (input.parent) deps.push({ uri: input.parent.uri, digest: digestSet(input.parent.digest, `parent ${input.parent.uri}`), name: PARENT_DEPENDENCY });
  for (const a of input.artifacts) {
    deps.push({ uri: a.uri, digest: { ...digestSet(`sha256:${a.sha256}`, a.uri), ...digestSet(`sha512:${a.sha512}`, a.uri) }, ...(a.name ? { name: a.name } : {}) });
  }
  const key = (d: ResourceDescriptor) => `${d.uri}\u0000${JSON.stringify(d.digest)}`;
  const unique = new Map(deps.map((d) => [key(d), d]));
  return [...unique.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
}
