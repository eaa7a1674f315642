/**
 * Builds over Docker Engine + BuildKit (dockerode, `version: '2'`): one
 * platform per build, context streamed as a tar, `networkmode: none`, one BuildKit session per build
 * (session.ts) so FROM images resolve on registries that challenge for auth. A failed step reports the
 * image, platform, step and the tail of its log.
 *
 * Parents (BASE_IMAGE, BUILDER_IMAGE) are given by registry, repository and digest. An engine on this
 * machine pulls them from our endpoint on 127.0.0.1 (parent-proxy.ts), so that registry faults meet our
 * retries rather than BuildKit's single attempt; what the build reports names the real registry. The
 * endpoint serves a build's parents while the build runs, and runs only while a build does: the last
 * build to end closes it, and the next one starts a new one (new port, new token).
 */
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { EksdError, isEksdError } from '../../errors.ts';
import { TraceDecoder, type TraceEvent } from './trace.ts';
import { openSession, type CredentialsForHost } from './session.ts';
import { startParentProxy, type ParentProxy } from './parent-proxy.ts';
import type { ParentGrant } from './parent-grants.ts';
import type { ImageSource } from '../../registry/image.ts';
import { engineReaches } from './engine.ts';
import { StepLogs } from './step-logs.ts';

/** A parent image, passed to the build as `<registry>/<repository>@<digest>` in a build arg. */
export interface ParentImage extends ImageSource { digest: string }

export interface BuildRequest {
  image: string;
  platform: string;
  context: Readable;
  dockerfile: string;
  buildArgs: Record<string, string>;
  /** Build args naming parent images (BASE_IMAGE, BUILDER_IMAGE), set by the builder. */
  parents?: Record<string, ParentImage>;
  /** Local tag for the result in the engine's image store. */
  tag: string;
  labels?: Record<string, string>;
}

export interface BuildResult {
  imageId: string;
  steps: number;
  cachedSteps: number;
  /**
   * The parents' names as the engine knew them, with the real ones ([proxied, real]). BuildKit writes a
   * parent's name into the history of the layers the parent's own history does not describe ("pulled
   * from ..."); the export puts the real name back (export.ts).
   */
  parentNames: Array<[string, string]>;
}

export interface BuildKitOptions {
  /** What the session tells BuildKit for a registry host (default: anonymous pulls). */
  credentials?: CredentialsForHost;
  /**
   * The engine runs on this machine: serve it the parents from 127.0.0.1 (default: it pulls them itself).
   * When the engine turns out not to reach 127.0.0.1 here, it pulls them itself all the same.
   */
  parentsOnLoopback?: boolean;
}

/** The parents of one build as the engine names them, how to say it in the real registries' names, and the grants to release. */
interface ParentNames { args: Record<string, string>; pairs: Array<[string, string]>; real: (text: string) => string; grants: ParentGrant[] }

export class BuildKitBuilder {
  private proxy: Promise<ParentProxy | undefined> | undefined;
  /** Whether the engine reaches our loopback endpoint: asked once, with the first endpoint. */
  private reaches: boolean | undefined;
  /** Builds running now: the endpoint lives while there is one. */
  private running = 0;

  constructor(private readonly docker: Docker, private readonly o: BuildKitOptions = {}) {}

  async build(req: BuildRequest, onEvent: (e: TraceEvent) => void): Promise<BuildResult> {
    this.running++;
    try {
      return await this.buildWithParents(req, onEvent);
    } finally {
      if (--this.running === 0) await this.close();
    }
  }

  async close(): Promise<void> {
    const proxy = this.proxy;
    this.proxy = undefined;
    await (await proxy?.catch(() => undefined))?.close();
  }

  private async buildWithParents(req: BuildRequest, onEvent: (e: TraceEvent) => void): Promise<BuildResult> {
    const started = Date.now();
    const names = await this.parentNames(req);
    try {
      const session = await openSession(this.docker, this.o.credentials);
      try {
        const result = await this.run({ ...req, buildArgs: names.args }, session.id, (e) => onEvent(realNames(e, names.real)));
        return { ...result, parentNames: names.pairs };
      } catch (e) {
        throw await this.parentFailure(e, req, names, started) ?? renamed(e, names.real);
      } finally {
        session.close();
      }
    } finally {
      for (const g of names.grants) g.release();
    }
  }

  private async parentNames(req: BuildRequest): Promise<ParentNames> {
    const parents = Object.entries(req.parents ?? {});
    const proxy = parents.length > 0 && this.o.parentsOnLoopback ? await (this.proxy ??= this.loopback()) : undefined;
    const args = { ...req.buildArgs };
    const pairs: Array<[string, string]> = [];
    const grants: ParentGrant[] = [];
    try {
      for (const [arg, p] of parents) {
        const real = `${p.client.registry}/${p.repository}`;
        const name = proxy ? (grants[grants.length] = await proxy.serve(p, p.digest)).name : real;
        args[arg] = `${name}@${p.digest}`;
        if (proxy) pairs.push([name, real]);
      }
    } catch (e) {
      for (const g of grants) g.release();
      throw parentUnreadable(req, e);
    }
    const real = (text: string): string => pairs.reduce((t, [name, r]) => t.split(name).join(r), text);
    return { args, pairs, real, grants };
  }

  /** The parents' endpoint, once the engine has shown that it reaches it (asked once); undefined when it does not. */
  private async loopback(): Promise<ParentProxy | undefined> {
    if (this.reaches === false) return undefined;
    const proxy = await startParentProxy();
    if (this.reaches ??= await engineReaches(this.docker, proxy.host, () => proxy.stats.requests)) return proxy;
    await proxy.close();
    return undefined;
  }

  /** A build that failed while the real registry failed the parents' reads: that registry's error, in its own names. */
  private async parentFailure(e: unknown, req: BuildRequest, names: ParentNames, started: number): Promise<EksdError | undefined> {
    if (!isEksdError(e, 'BUILD_FAILED') || names.pairs.length === 0 || !this.proxy) return undefined;
    const failure = (await this.proxy)?.failuresSince(started, names.pairs.map(([name]) => name))[0];
    if (!failure) return undefined;
    return new EksdError('BUILD_FAILED', `${req.image} ${req.platform}: the engine could not read a parent image: ${failure.error.message}`, {
      where: failure.error.where ?? `${req.image} ${req.platform}`, hint: failure.error.hint ?? 'retry the release', cause: e,
    });
  }

  private async run(req: BuildRequest, session: string, onEvent: (e: TraceEvent) => void): Promise<Omit<BuildResult, 'parentNames'>> {
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

/** A parent the endpoint could not read before the build: the registry's error, as a failed build. */
function parentUnreadable(req: BuildRequest, e: unknown): unknown {
  if (!isEksdError(e) || e.code === 'BUILD_PARENT_PROXY') return e;
  return new EksdError('BUILD_FAILED', `${req.image} ${req.platform}: the engine could not read a parent image: ${e.message}`, {
    where: e.where ?? `${req.image} ${req.platform}`, hint: e.hint ?? 'retry the release', cause: e,
  });
}

/** The event with proxied parent names replaced by the real ones. */
function realNames(e: TraceEvent, real: (text: string) => string): TraceEvent {
  if (e.kind === 'step') return { ...e, name: real(e.name) };
  if (e.kind === 'error') return { ...e, step: real(e.step), message: real(e.message) };
  return { ...e, step: real(e.step), text: real(e.text) };
}

function renamed(e: unknown, real: (text: string) => string): unknown {
  if (!isEksdError(e)) return e;
  const out = new EksdError(e.code, real(e.message), { cause: e.cause ?? e,
    ...(e.where === undefined ? {} : { where: real(e.where) }), ...(e.hint === undefined ? {} : { hint: real(e.hint) }) });
  return out.message === e.message && out.where === e.where && out.hint === e.hint ? e : out;
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
