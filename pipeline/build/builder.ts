/**
 * The Builder port and its adapter over Docker Engine + BuildKit (dockerode, `version: '2'`): one
 * platform per build, context streamed as a tar, `networkmode: none`, one BuildKit session per build
 * (session.ts) so FROM images resolve on registries that challenge for auth. A failed step reports the
 * image, platform, step and the tail of its log.
 */
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { EksdError } from '../errors.ts';
import { TraceDecoder, type TraceEvent } from './trace.ts';
import { openSession, type CredentialsForHost } from './session.ts';

export interface BuildRequest {
  image: string;
  platform: string;
  context: Readable;
  dockerfile: string;
  buildArgs: Record<string, string>;
  /** Local tag for the result in the engine's image store. */
  tag: string;
  labels?: Record<string, string>;
}

export interface BuildResult { imageId: string; steps: number; cachedSteps: number }

export interface Builder {
  build(req: BuildRequest, onEvent: (e: TraceEvent) => void): Promise<BuildResult>;
}

const LOG_TAIL = 20;
const ERROR_TAIL = 10;

/**
 * Each step's output lines. BuildKit ships stdout and stderr in separate batches, so a step's last error
 * line can arrive before a burst of its output; the hint shows the error lines the tail would miss.
 */
export class StepLogs {
  private readonly lines = new Map<string, Array<{ text: string; stderr: boolean }>>();

  add(step: string, text: string, stderr: boolean): void {
    const list = this.lines.get(step) ?? this.lines.set(step, []).get(step)!;
    for (const line of text.split('\n')) if (line) list.push({ text: line, stderr });
  }

  hint(step: string): string {
    const all = this.lines.get(step) ?? [];
    if (all.length === 0) return 'run the step by hand to see its output';
    const tail = all.slice(-LOG_TAIL);
    const missed = all.slice(0, -LOG_TAIL).filter((l) => l.stderr).slice(-ERROR_TAIL);
    const block = (title: string, lines: typeof all): string => `${title}:\n    ${lines.map((l) => l.text).join('\n    ')}`;
    return [...(missed.length ? [block('last error output', missed)] : []), block('last log lines', tail)].join('\n  ');
  }
}

export class BuildKitBuilder implements Builder {
  /** `credentials`: what the session tells BuildKit for a registry host (default: anonymous pulls). */
  constructor(private readonly docker: Docker, private readonly credentials?: CredentialsForHost) {}

  async build(req: BuildRequest, onEvent: (e: TraceEvent) => void): Promise<BuildResult> {
    const session = await openSession(this.docker, this.credentials);
    try {
      return await this.run(req, session.id, onEvent);
    } finally {
      session.close();
    }
  }

  private async run(req: BuildRequest, session: string, onEvent: (e: TraceEvent) => void): Promise<BuildResult> {
    const where = `${req.image} ${req.platform}`;
    const stream = await this.dial(req, session).catch((cause: Error) => {
      throw new EksdError('BUILD_FAILED', `${where}: the engine refused the build: ${cause.message}`, { where, cause, hint: 'check that dockerd runs (eksd env status)' });
    });
    const decoder = new TraceDecoder();
    const logs = new StepLogs();
    let imageId: string | undefined;
    let failure: { step: string; message: string } | undefined;
    let steps = 0;
    let cachedSteps = 0;
    for await (const message of jsonLines(stream)) {
      if (message.id === 'moby.buildkit.trace' && typeof message.aux === 'string') {
        for (const e of decoder.decode(message.aux)) {
          if (e.kind === 'log') logs.add(e.step, e.text, e.stderr);
          if (e.kind === 'error') failure ??= { step: e.step, message: e.message };
          if (e.kind === 'step' && e.state === 'done') steps++;
          if (e.kind === 'step' && e.state === 'cached') { steps++; cachedSteps++; }
          onEvent(e);
        }
      } else if (message.id === 'moby.image.id') {
        imageId = (message.aux as { ID: string }).ID;
      } else if (message.error) {
        failure ??= { step: '', message: String(message.error) };
      }
    }
    if (failure || !imageId) {
      const step = failure?.step ?? 'unknown step';
      throw new EksdError('BUILD_FAILED', `${where}: step "${step}" failed: ${failure?.message ?? 'no image produced'}`, {
        where: `${where} ${req.dockerfile}`, hint: logs.hint(step),
      });
    }
    return { imageId, steps, cachedSteps };
  }

  /** POST /build with our session (dockerode's buildImage would open its own, without a health service). */
  private dial(req: BuildRequest, session: string): Promise<NodeJS.ReadableStream> {
    const options = {
      t: req.tag, version: '2', session, platform: req.platform, networkmode: 'none', dockerfile: req.dockerfile,
      buildargs: req.buildArgs, labels: req.labels ?? {}, pull: false, rm: true, forcerm: true,
    };
    return new Promise((resolve, reject) => {
      this.docker.modem.dial({
        path: '/build?', method: 'POST', file: req.context, options, isStream: true,
        statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
      } as Parameters<Docker['modem']['dial']>[0], (err: Error | null, data?: unknown) => {
        if (err || !data) reject(err ?? new Error('no response'));
        else resolve(data as NodeJS.ReadableStream);
      });
    });
  }
}

async function* jsonLines(stream: NodeJS.ReadableStream): AsyncGenerator<Record<string, unknown>> {
  let buffer = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) yield JSON.parse(line) as Record<string, unknown>;
    }
  }
  if (buffer.trim()) yield JSON.parse(buffer) as Record<string, unknown>;
}
