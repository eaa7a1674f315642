/**
 * Crash a release on purpose: runs `eksd release --events json` for a test project, reads the NDJSON
 * progress events from stderr as they come, and SIGKILLs the process at a chosen event. Also reads what a
 * run leaves behind (journal, outbox, site) so tests can check what the next run must do.
 *
 * Two ways to pick the moment:
 * - a predicate (`KillPredicate`) over the events seen so far: the test process sends SIGKILL when it reads
 *   the event, so the child runs on for the moment that takes. Fine for long windows (inside a build).
 * - an event pattern (`EventMatch`): the child kills itself with SIGKILL the instant it writes the matching
 *   event (a preloaded module wraps its stderr), so short windows, like the one between announcing and the
 *   end of the run, are hit every time. Nothing in the run itself changes.
 *
 *   const crash = await releaseKilledAt(p, at.stageFinished('announce'));
 *   crash.killed            // true when the SIGKILL ended the process (not a normal exit before it)
 *   const again = await runWithEvents(p, ['release']);
 */
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { RegistryClient } from '../../pipeline/registry/client.ts';
import type { RunEvent } from '../../pipeline/stages/events.ts';
import type { JournalData } from '../../pipeline/app/journal.ts';
import type { BuildRecord } from '../../pipeline/stages/images/types.ts';
import { EKSD_BIN, EKSD_TIMEOUT_MS, type TestProject } from './project.ts';

export interface EventRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when a SIGKILL asked for by the test ended the process (not a normal exit before it). */
  killed: boolean;
  /** The event the kill was asked for at, if any. */
  killedAt?: RunEvent;
  events: RunEvent[];
  stdout: string;
  stderr: string;
  pid: number;
  ms: number;
}

export type KillPredicate = (event: RunEvent, seen: RunEvent[]) => boolean;

/** Fields an event must have (all equal) to match. */
export type EventMatch = Record<string, string>;

/** Preloaded into the child: after writing an event line that matches EKSD_TEST_KILL_AFTER, SIGKILL itself. */
const KILL_PRELOAD = `
const match = JSON.parse(process.env.EKSD_TEST_KILL_AFTER);
const write = process.stderr.write.bind(process.stderr);
let pending = '';
process.stderr.write = (chunk, ...rest) => {
  const result = write(chunk, ...rest);
  pending += String(chunk);
  for (let i = pending.indexOf('\\n'); i >= 0; i = pending.indexOf('\\n')) {
    const line = pending.slice(0, i);
    pending = pending.slice(i + 1);
    if (!line.startsWith('{')) continue;
    let event;
    try { event = JSON.parse(line); } catch { continue; }
    if (Object.entries(match).every(([k, v]) => event[k] === v)) process.kill(process.pid, 'SIGKILL');
  }
  return result;
};
`;

const matches = (e: RunEvent, m: EventMatch) => Object.entries(m).every(([k, v]) => (e as unknown as Record<string, unknown>)[k] === v);

/**
 * Runs `eksd <args> --events json` (args[0] is the command), killed at `killAt` (see above). Never throws
 * on a non-zero exit.
 */
export function runWithEvents(p: TestProject, args: string[], o: {
  killAt?: KillPredicate | EventMatch; onEvent?: (event: RunEvent, pid: number) => void; env?: Record<string, string>; timeoutMs?: number;
} = {}): Promise<EventRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const exact = o.killAt && typeof o.killAt === 'object' ? o.killAt : undefined;
    const predicate = typeof o.killAt === 'function' ? o.killAt : undefined;
    const node = exact ? [`--import=data:text/javascript,${encodeURIComponent(KILL_PRELOAD)}`] : [];
    const child = spawn(process.execPath, [...node, EKSD_BIN, ...args, '--events', 'json'], {
      cwd: p.root, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, EKSD_PROFILE: 'local', EKSD_CONFIG: p.configFile, CI: 'true', ...o.env,
        ...(exact ? { EKSD_TEST_KILL_AFTER: JSON.stringify(exact) } : {}) },
    });
    const events: RunEvent[] = [];
    let stdout = '';
    let stderr = '';
    let pending = '';
    let killedAt: RunEvent | undefined;
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      stderr += text;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        let event: RunEvent;
        try { event = JSON.parse(line) as RunEvent; } catch { continue; }
        events.push(event);
        o.onEvent?.(event, child.pid ?? 0);
        if (killedAt) continue;
        if (exact && matches(event, exact)) killedAt = event;
        if (predicate?.(event, events)) {
          killedAt = event;
          child.kill('SIGKILL');
        }
      }
    });
    const timer = setTimeout(() => { stderr += '\n[test] killed by the test timeout\n'; child.kill('SIGKILL'); }, o.timeoutMs ?? EKSD_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, killed: signal === 'SIGKILL' && killedAt !== undefined, ...(killedAt ? { killedAt } : {}),
        events, stdout, stderr, pid: child.pid ?? 0, ms: Date.now() - started });
    });
  });
}

/** `eksd release --concurrency 2 --events json`, killed at `killAt`. */
export function releaseKilledAt(p: TestProject, killAt: KillPredicate | EventMatch, args: string[] = []): Promise<EventRun> {
  return runWithEvents(p, ['release', '--concurrency', '2', ...args], { killAt });
}

/** Kill predicates for the interesting moments of a run. */
export const at = {
  /** A build step finished in BuildKit (the run is inside a build). */
  firstStep: ((e) => e.type === 'step') as KillPredicate,
  /** A build step of an image built FROM one this run already published (its index is pushed). */
  stepAfterIndexed: ((e, seen) => e.type === 'step' && seen.some((s) => s.type === 'image' && s.state === 'indexed')) as KillPredicate,
  /** The first platform build started. */
  firstBuilding: ((e) => e.type === 'image' && e.state === 'building') as KillPredicate,
  /**
   * The first platform image pushed in the run (exact): its image's index needs its other platform too,
   * so it cannot have been pushed yet.
   */
  firstPushed: { type: 'image', state: 'pushed' } as EventMatch,
  /** The moment a stage reports it finished (exact: the child kills itself right after the event). */
  stageFinished: (stage: string): EventMatch => ({ type: 'stage', stage, state: 'finished' }),
};

/** (image, platform) pairs by event state, e.g. built(events) = ["etcd linux/amd64", ...]. */
export function imagesIn(events: RunEvent[], state: 'building' | 'built' | 'pushed' | 'reused' | 'indexed'): string[] {
  return events.filter((e) => e.type === 'image' && e.state === state)
    .map((e) => (e.type === 'image' && e.platform ? `${e.image} ${e.platform}` : (e as { image: string }).image)).sort();
}

export function runsDir(p: TestProject, channel = '1-33'): string {
  return join(p.config().stateDir, 'runs', channel);
}

/** The journal of the channel's unfinished run, as the killed process left it. */
export function currentJournal(p: TestProject, channel = '1-33'): JournalData | undefined {
  const file = join(runsDir(p, channel), 'current.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as JournalData : undefined;
}

/** What the journal records of the build stage: by image, its pushed platforms and index. */
export function journalImages(j: JournalData | undefined): BuildRecord {
  return (j?.stages.build ?? {}) as BuildRecord;
}

/** "image platform" pairs the journal records as pushed. */
export function journaledPlatforms(j: JournalData | undefined): string[] {
  return Object.entries(journalImages(j)).flatMap(([name, r]) => Object.keys(r.platforms).map((pl) => `${name} ${pl}`)).sort();
}

export function outboxFiles(p: TestProject): string[] {
  const dir = p.config().announce.dir!;
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
}

export function releaseNumbers(p: TestProject, channel = '1-33'): number[] {
  const dir = join(p.config().site.dir, `kubernetes-${channel}`);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((f) => /^kubernetes-[\d-]+-eks-(\d+)\.yaml$/.exec(f)?.[1]).filter((n): n is string => n !== undefined).map(Number).sort((a, b) => a - b);
}

export function manifestText(p: TestProject, number: number, channel = '1-33'): string {
  return readFileSync(join(p.config().site.dir, `kubernetes-${channel}`, `kubernetes-${channel}-eks-${number}.yaml`), 'utf8');
}

/** A manifest with everything that names its number or date replaced, to compare releases of one project. */
export function normalizeManifest(text: string, number: number, channel = '1-33'): string {
  return text
    .replaceAll(`kubernetes-${channel}-eks-${number}`, `kubernetes-${channel}-eks-N`)
    .replace(new RegExp(`-eks-${channel}-${number}\\b`, 'g'), `-eks-${channel}-N`)
    .replaceAll(`/releases/${number}/`, '/releases/N/')
    .replace(new RegExp(`^(\\s+number:) ${number}$`, 'm'), '$1 N')
    .replace(/^\s+date: .*$/m, '');
}

export interface ManifestImage { name: string; uri: string; digest: string }

/** The image assets of a Release manifest: name, uri (tag form) and imageDigest. */
export function manifestImages(text: string): ManifestImage[] {
  const release = parse(text) as { status: { components: Array<{ assets: Array<{ name: string; image?: { uri: string; imageDigest: string } }> }> } };
  return release.status.components.flatMap((c) => c.assets.flatMap((a) => (a.image ? [{ name: a.name, uri: a.image.uri, digest: a.image.imageDigest }] : [])));
}

/** What a tag (`registry/repo:tag`) or a digest reference points to in the registry now. */
export async function registryDigest(ref: string): Promise<string | undefined> {
  const at = ref.indexOf('@');
  const colon = ref.lastIndexOf(':');
  const [name, reference] = at >= 0 ? [ref.slice(0, at), ref.slice(at + 1)] : [ref.slice(0, colon), ref.slice(colon + 1)];
  const registry = name.split('/')[0]!;
  const head = await new RegistryClient({ registry }).headManifest(name.slice(registry.length + 1), reference);
  return head?.digest;
}

/** Images of `eksd release --json` output whose tags do not point at the digest the run reports. */
export async function tagMismatches(result: { images: Array<{ uri: string; digest: string; tags: string[] }> }): Promise<string[]> {
  const out: string[] = [];
  for (const img of result.images) {
    const repo = img.uri.slice(0, img.uri.lastIndexOf(':'));
    for (const tag of img.tags) {
      const digest = await registryDigest(`${repo}:${tag}`);
      if (digest !== img.digest) out.push(`${repo}:${tag} -> ${digest ?? 'missing'}, expected ${img.digest}`);
    }
  }
  return out;
}

/** The platform manifests (digests) of the index a tag points to. */
export async function indexEntries(ref: string): Promise<string[]> {
  const colon = ref.lastIndexOf(':');
  const name = ref.slice(0, colon);
  const registry = name.split('/')[0]!;
  const index = await new RegistryClient({ registry }).getManifest(name.slice(registry.length + 1), ref.slice(colon + 1));
  return ((index.json as { manifests?: Array<{ digest: string }> }).manifests ?? []).map((m) => m.digest).sort();
}

/** What `eksd release --json` prints. */
export interface ReleaseJson {
  release: string; number: number; resumed: boolean; ms: number;
  images: Array<{ name: string; uri: string; digest: string; tags: string[]; changed: string | null; platforms: Record<string, { digest: string; built: boolean; reason: string }> }>;
  announcement: { skipped: boolean } | null;
}

export const releaseJson = (run: { stdout: string }) => JSON.parse(run.stdout) as ReleaseJson;

/** The last lines of a run's output, for assertion messages. */
export const tail = (s: string) => s.split('\n').slice(-15).join('\n');

/** An AL2 security update: a new stand-in upstream revision, pinned like `eksd watch-base --write` does. */
export async function al2Update(t: ExecutionContext, p: TestProject): Promise<void> {
  await p.seed({ update: true });
  const w = await p.eksd(['watch-base', '--write']);
  t.true(w.code === 0 || w.code === 10, w.stderr);
}

/**
 * The end state every crashed-then-resumed release must reach: releases 1..number, one announcement each,
 * the run closed, every tag on the recorded digest, the manifest listing them, and verify passing.
 */
export async function checkFinished(t: ExecutionContext, p: TestProject, number: number, result: ReleaseJson, released = ['etcd', 'kube-apiserver']): Promise<void> {
  t.is(result.number, number);
  t.deepEqual(releaseNumbers(p), Array.from({ length: number }, (_, i) => i + 1), 'no second number was used');
  t.deepEqual(outboxFiles(p), releaseNumbers(p).map((n) => `kubernetes-1-33-eks-${n}.json`).sort(), 'one announcement per release');
  t.is(currentJournal(p), undefined, 'the run is closed');
  t.deepEqual(await tagMismatches(result), [], 'every tag points at the digest the run recorded');
  t.deepEqual(manifestImages(manifestText(p, number)).map((i) => i.digest).sort(),
    result.images.filter((i) => released.includes(i.name)).map((i) => i.digest).sort(), 'the manifest lists the published digests');
  const verify = await p.eksd(['verify', `kubernetes-1-33-eks-${number}`]);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
}
