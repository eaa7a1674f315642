/**
 * The image config of an assembled image: the parent's config with the recipe's instructions applied as
 * BuildKit's Dockerfile frontend applies them (ENV replaces a variable in place or appends it, ENTRYPOINT
 * clears a CMD not set in this Dockerfile, EXPOSE and LABEL merge), one history entry per instruction,
 * the new layers' diff_ids, and `created` the fixed time.
 */
import { startingEnv, type ConfigChange, type Step, type TargetPlatform } from './recipe.ts';

type Json = Record<string, unknown>;

export interface HistoryEntry { created: string; created_by: string; comment: string; empty_layer?: boolean }

export interface ImageConfigInput {
  /** The parent's config JSON (undefined: FROM scratch). */
  parent: Json | undefined;
  platform: TargetPlatform;
  steps: Step[];
  /** Per step, the diff_id of the layer it made; undefined for a step that changed no file (an empty layer in the history). */
  diffIds: Array<string | undefined>;
  created: string;
}

export function imageConfig(input: ImageConfigInput): Buffer {
  const parent = input.parent ?? {};
  // FROM scratch starts from BuildKit's empty image: working directory "/" (and the default PATH, below).
  const inherited = (parent.config as Json | undefined) ?? { WorkingDir: '/' };
  // An environment without PATH gets the default one; OnBuild is written as null (triggers were refused, or there were none).
  const config: Json = { ...inherited, Env: startingEnv(inherited.Env as string[] | undefined), OnBuild: null };
  const history: HistoryEntry[] = [...((parent.history as HistoryEntry[] | undefined) ?? [])];
  input.steps.forEach((step, i) => {
    if (step.op === 'config') apply(config, step.change);
    if (step.op === 'workdir') config.WorkingDir = step.workingDir;
    history.push({ created: input.created, created_by: step.createdBy, comment: 'buildkit.dockerfile.v0', ...(input.diffIds[i] ? {} : { empty_layer: true }) });
  });
  const made = input.diffIds.filter((d): d is string => d !== undefined);
  const rootfs = { type: 'layers', diff_ids: [...(((parent.rootfs as Json | undefined)?.diff_ids as string[] | undefined) ?? []), ...made] };
  // The parent's variant does not carry over: the target platform says whether there is one.
  const out: Json = { ...parent, architecture: input.platform.architecture, os: input.platform.os,
    config: withoutEmpty(config), created: input.created, history, rootfs };
  delete out.variant;
  if (input.platform.variant) out.variant = input.platform.variant;
  return Buffer.from(JSON.stringify(sortKeys(out)));
}

function apply(config: Json, change: ConfigChange): void {
  if ('env' in change) for (const [k, v] of change.env) config.Env = setEnv((config.Env as string[] | undefined) ?? [], k, v);
  else if ('user' in change) config.User = change.user;
  else if ('entrypoint' in change) { config.Entrypoint = change.entrypoint; if (change.resetsCmd) delete config.Cmd; }
  else if ('cmd' in change) { config.Cmd = change.cmd; config.ArgsEscaped = true; }
  else if ('expose' in change) config.ExposedPorts = sortKeys({ ...(config.ExposedPorts as Json | undefined), ...Object.fromEntries(change.expose.map((p) => [p, {}])) });
  else if ('labels' in change) config.Labels = sortKeys({ ...(config.Labels as Json | undefined), ...Object.fromEntries(change.labels) });
  else if ('stopSignal' in change) config.StopSignal = change.stopSignal;
}

function setEnv(env: string[], key: string, value: string): string[] {
  const at = env.findIndex((e) => e.slice(0, e.indexOf('=')) === key);
  const next = [...env];
  if (at >= 0) next[at] = `${key}=${value}`; else next.push(`${key}=${value}`);
  return next;
}

/** Keys in byte order, as Go writes a map (Labels, ExposedPorts), and the top level in a fixed order whatever the parent's. */
function sortKeys(o: Json): Json {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** BuildKit's config struct leaves out what is empty (`omitempty`), OnBuild aside. */
function withoutEmpty(config: Json): Json {
  const empty = (v: unknown) => v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
  return Object.fromEntries(Object.entries(config).filter(([k, v]) => k === 'OnBuild' || !empty(v)));
}
