/**
 * Which BuildKit the Docker engine runs, from what the engine reports (`docker version`): a component
 * named BuildKit when the engine lists one, else the BuildKit that engine release vendors. BuildKit 0.13
 * is the first to take SOURCE_DATE_EPOCH as a build arg and rewrite the timestamps of what it builds.
 */

/** The part of the engine's `/version` answer read here. */
export interface EngineVersion { Version?: string; Components?: Array<{ Name?: string; Version?: string }> }

/** Docker Engine major.minor -> the BuildKit it vendors (moby's vendor.mod), oldest first. */
const VENDORED: Array<[engine: string, buildkit: string]> = [
  ['20.10', '0.8'], ['23.0', '0.10'], ['24.0', '0.11'], ['25.0', '0.12'], ['26.0', '0.13'], ['27.0', '0.15'], ['28.0', '0.20'],
];

export const SOURCE_DATE_EPOCH_SINCE = '0.13';

/** "0.13.2" for the engine, or undefined when neither a component nor the engine version says. */
export function engineBuildKit(v: EngineVersion): string | undefined {
  const listed = v.Components?.find((c) => c.Name?.toLowerCase() === 'buildkit')?.Version;
  if (listed) return listed.replace(/^v/, '');
  if (!v.Version) return undefined;
  const vendored = VENDORED.filter(([engine]) => compare(v.Version!, engine) >= 0);
  return vendored[vendored.length - 1]?.[1];
}

export function takesSourceDateEpoch(buildkit: string | undefined): boolean {
  return buildkit !== undefined && compare(buildkit, SOURCE_DATE_EPOCH_SINCE) >= 0;
}

/** Numeric comparison of dotted versions ("26.1.4" against "26.0"); a pre-release suffix is ignored. */
function compare(a: string, b: string): number {
  const parts = (s: string) => s.replace(/^v/, '').split(/[.+-]/).slice(0, 3).map((n) => Number.parseInt(n, 10) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}
