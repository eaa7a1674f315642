/**
 * The BuildKit builder against the real dockerd: a RUN step under qemu for linux/arm64 reports aarch64
 * in its log, and a failing step names the image, platform and step with the tail of its log.
 */
import anyTest, { type TestFn } from 'ava';
import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { BuildKitBuilder } from '../pipeline/builders/buildkit/builder.ts';
import { StepLogs } from '../pipeline/builders/buildkit/step-logs.ts';
import { TraceDecoder, type TraceEvent } from '../pipeline/builders/buildkit/trace.ts';
import { isEksdError } from '../pipeline/errors.ts';
import { makeProject, type TestProject } from './helpers/project.ts';

const test = anyTest as TestFn<{ p: TestProject; docker: Docker; base: string; tags: string[] }>;

test.before(async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  const seeded = await p.seed();
  const docker = new Docker({ socketPath: p.config().dockerSocket });
  const base = `${seeded.base.reference.replace(/:[^:/]+$/, '')}@${seeded.base.digest}`;
  t.context = { p, docker, base, tags: [] };
});

test.after.always(async (t) => {
  const { p, docker, tags } = t.context;
  for (const tag of tags) await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
  await p?.cleanup();
});

/** A build context with just a Dockerfile. */
function context(dockerfile: string): Readable {
  const tar = pack();
  tar.entry({ name: 'Dockerfile', mode: 0o644, mtime: new Date(0) }, dockerfile);
  tar.finalize();
  return Readable.from(tar);
}

async function build(t: { context: { docker: Docker; base: string; tags: string[] } }, platform: string, dockerfile: string) {
  const tag = `eksd-test/builder:${randomBytes(6).toString('hex')}`;
  t.context.tags.push(tag);
  const events: TraceEvent[] = [];
  const builder = new BuildKitBuilder(t.context.docker);
  const run = builder.build({
    image: 'arch-probe', platform, context: context(dockerfile), dockerfile: 'Dockerfile',
    // A fresh nonce: the RUN step must really run (a cached step has no log).
    buildArgs: { BASE_IMAGE: t.context.base, NONCE: randomBytes(8).toString('hex') }, tag,
  }, (e) => events.push(e));
  return { run, events, tag };
}

const PROBE = [
  'ARG BASE_IMAGE',
  'FROM $BASE_IMAGE',
  'ARG NONCE',
  'RUN echo "probe $NONCE: machine=$(uname -m)" && uname -m > /machine',
  '',
].join('\n');

const logText = (events: TraceEvent[]): string => events.filter((e) => e.kind === 'log').map((e) => (e as { text: string }).text).join('');

test('a RUN step builds for linux/arm64 under qemu and its output says aarch64', async (t) => {
  const { run, events, tag } = await build(t, 'linux/arm64', PROBE);
  const result = await run;
  const logs = logText(events);
  t.regex(logs, /machine=aarch64/, logs);
  t.notRegex(logs, /x86_64/);
  const runStep = events.find((e) => e.kind === 'step' && e.state === 'done' && e.name.includes('RUN echo'));
  t.truthy(runStep, 'the RUN step finished (not served from cache)');
  t.true(result.steps > 0);
  const inspected = await t.context.docker.getImage(tag).inspect();
  t.is(inspected.Architecture, 'arm64');
  t.is(inspected.Os, 'linux');
});

test('the same recipe for linux/amd64 reports x86_64', async (t) => {
  const { run, events, tag } = await build(t, 'linux/amd64', PROBE);
  await run;
  t.regex(logText(events), /machine=x86_64/);
  t.is((await t.context.docker.getImage(tag).inspect()).Architecture, 'amd64');
});

test('a failing step names the image, the platform and the step, with the tail of its log', async (t) => {
  const failing = [
    'ARG BASE_IMAGE',
    'FROM $BASE_IMAGE',
    'ARG NONCE',
    'RUN echo "nonce $NONCE"; for i in $(seq 1 30); do echo "line $i of the step"; done; echo "fatal: the widget is broken" >&2; sleep 1; exit 3',
    '',
  ].join('\n');
  // (The step sleeps a moment before failing: BuildKit ships step output in batches and may drop the
  // last batch of a failing step; the test is about what we report, not about that.)
  const { run } = await build(t, 'linux/arm64', failing);
  const e = await t.throwsAsync(run);
  t.true(isEksdError(e, 'BUILD_FAILED'), String(e));
  if (!isEksdError(e)) return;
  t.regex(e.message, /^arch-probe linux\/arm64: step "\[2\/2\] RUN echo "nonce [0-9a-f]{16}"; for i in/);
  t.regex(e.message, /exit code: 3/);
  t.regex(e.where ?? '', /arch-probe linux\/arm64 Dockerfile/);
  t.regex(e.hint ?? '', /last log lines:/);
  t.regex(e.hint ?? '', /fatal: the widget is broken/);
  t.regex(e.hint ?? '', /line 30 of the step/);
  t.notRegex(e.hint ?? '', /line 5 of the step/, 'only the tail of the log');
});

test('a failing step\'s hint keeps its error lines even when more output came after them', (t) => {
  const logs = new StepLogs();
  logs.add('RUN x', 'fatal: the widget is broken\n', true);
  logs.add('RUN x', Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n'), false);
  const hint = logs.hint('RUN x');
  t.regex(hint, /^last error output:\n {4}fatal: the widget is broken\n {2}last log lines:\n {4}line 11\n/);
  t.regex(hint, /line 30$/);
  t.notRegex(hint, /line 10\n/);
  t.is(new StepLogs().hint('RUN y'), 'run the step by hand to see its output');
  const short = new StepLogs();
  short.add('RUN z', 'out\n', false);
  short.add('RUN z', 'err\n', true);
  t.is(short.hint('RUN z'), 'last log lines:\n    out\n    err', 'error lines already in the tail are not repeated');
});

test('the trace decoder tells a step\'s stderr from its stdout', (t) => {
  const type = protobuf.loadSync(createRequire(import.meta.url).resolve('dockerode/lib/proto/buildkit_status.proto')).lookupType('moby.buildkit.v1.StatusResponse');
  const aux = Buffer.from(type.encode(type.fromObject({
    vertexes: [{ digest: 'sha256:v1', name: '[2/2] RUN make' }],
    logs: [{ vertex: 'sha256:v1', stream: 1, msg: Buffer.from('compiling\n') }, { vertex: 'sha256:v1', stream: 2, msg: Buffer.from('fatal: no\n') }],
  })).finish()).toString('base64');
  const logs = new TraceDecoder().decode(aux).filter((e) => e.kind === 'log');
  t.deepEqual(logs, [
    { kind: 'log', step: '[2/2] RUN make', text: 'compiling\n', stderr: false },
    { kind: 'log', step: '[2/2] RUN make', text: 'fatal: no\n', stderr: true },
  ]);
});
