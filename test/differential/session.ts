/**
 * A differential session: the real engine and registry of `eksd env up`, a scratch directory, and a
 * way to run many cases a few at a time, shrinking each case that differs.
 */
import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildKitBuilder } from '../../pipeline/builders/buildkit/builder.ts';
import { RegistryClient } from '../../pipeline/registry/client.ts';
import { describeCase, type Case } from './case.ts';
import { runCase, type CaseResult, type Harness } from './harness.ts';
import { shrink } from './shrink.ts';

export const LOCAL_REGISTRY = '127.0.0.1:5000';
export const DOCKER_SOCKET = process.env.EKSD_DOCKER_SOCKET ?? '/run/eksd/docker.sock';

export async function openHarness(): Promise<Harness & { close(): Promise<void> }> {
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  const builder = new BuildKitBuilder(docker);
  const work = await mkdtemp(join(tmpdir(), 'eksd-differential-'));
  return { docker, builder, work, client: new RegistryClient({ registry: LOCAL_REGISTRY }), ns: `differential-${randomBytes(4).toString('hex')}`,
    async close() { await builder.close(); await rm(work, { recursive: true, force: true }); } };
}

export interface Tally { cases: number; equal: number; refused: Map<string, number>; bothFailed: number; different: Finding[] }
export interface Finding { original: Case; shrunk: Case; differences: string[]; report: string }

/** Runs the cases `concurrency` at a time; a case that differs is shrunk and reported. */
export async function runCases(h: Harness, cases: Iterable<Case>, o: { concurrency: number; shrink: boolean; onResult?: (c: Case, r: CaseResult) => void }): Promise<Tally> {
  const tally: Tally = { cases: 0, equal: 0, refused: new Map(), bothFailed: 0, different: [] };
  const queue = [...cases];
  const worker = async (): Promise<void> => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const result = await runCase(h, c);
      count(tally, result);
      o.onResult?.(c, result);
      if (result.differences.length > 0) tally.different.push(await finding(h, c, result, o.shrink));
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return tally;
}

function count(tally: Tally, r: CaseResult): void {
  tally.cases++;
  if (r.assembled.kind === 'refused') {
    const why = reasonKind(r.assembled.reason);
    tally.refused.set(why, (tally.refused.get(why) ?? 0) + 1);
  } else if (r.differences.length === 0) {
    if (r.assembled.kind === 'failed') tally.bothFailed++; else tally.equal++;
  }
}

/** A refusal's reason without its place and values: "COPY --chmod=4755: ..." -> "COPY --chmod". */
export function reasonKind(reason: string): string {
  return reason.replace(/ at Dockerfile:\d+$/, '').replace(/=\S*/g, '').replace(/\$\{?\w+\}?/g, '$VAR').slice(0, 90);
}

async function finding(h: Harness, c: Case, result: CaseResult, doShrink: boolean): Promise<Finding> {
  const shrunk = doShrink ? await shrink(c, async (x) => (await runCase(h, x)).differences.length > 0) : c;
  const differences = shrunk === c ? result.differences : (await runCase(h, shrunk)).differences;
  const report = `${describeCase(shrunk)}\nfirst difference: ${differences[0]}${differences.length > 1 ? `\n(and ${differences.length - 1} more)` : ''}`;
  return { original: c, shrunk, differences, report };
}
