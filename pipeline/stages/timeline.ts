/**
 * The run as a timeline: when each channel, stage and platform build started and ended, on which path
 * (the builder) and engine. Derived from the run's events alone, each stamped when it was emitted; the
 * pictures (report/gantt.ts, report/bars.ts, app/timeline-svg.ts) draw this value and nothing else.
 */
import type { Emit, RunEvent } from './events.ts';

/** Milliseconds since the run started. */
export interface Span { start: number; end: number }

export interface ChannelSpan extends Span { channel: string; outcome?: string; release?: string; detail?: string }

export interface StageSpan extends Span { channel: string; stage: string; state: 'finished' | 'skipped' | 'unfinished'; detail?: string }

export interface BuildSpan extends Span {
  channel: string; image: string; platform: string;
  /** The builder: assemble, buildkit. */
  via: string;
  engine: string;
  /** When the image was made, before its push (absent when the builder did not say). */
  built?: number;
  /** pushed; refused (the builder refused once it saw the parent: decided again); unfinished (the run ended first). */
  outcome: 'pushed' | 'refused' | 'unfinished';
}

export interface Timeline {
  /** When the run started (epoch ms). */
  startedAt: number;
  ms: number;
  engine: string;
  channels: ChannelSpan[];
  stages: StageSpan[];
  builds: BuildSpan[];
  /** Platform images reused, per channel. */
  reused: Record<string, number>;
}

export interface StampedEvent { at: number; event: RunEvent }

/** Outside `eksd release` (no channel events) stages and builds belong to this one. */
const NO_CHANNEL = '';

export function timelineOf(events: readonly StampedEvent[], engine: string): Timeline {
  const startedAt = events[0]?.at ?? Date.now();
  const t: Timeline = { startedAt, ms: 0, engine, channels: [], stages: [], builds: [], reused: {} };
  const open = new Opened(t, engine);
  for (const { at, event } of events) open.take(at - startedAt, event);
  t.ms = Math.max(0, (events.at(-1)?.at ?? startedAt) - startedAt);
  open.closeAll(t.ms);
  return t;
}

/** What is open while the events are read: the channel, its stages, its builds. */
class Opened {
  /** The channel of events that do not name one (a run of one channel): the last one started. */
  private current = NO_CHANNEL;
  private readonly stages = new Map<string, StageSpan>();
  private readonly builds = new Map<string, BuildSpan>();

  constructor(private readonly t: Timeline, private readonly engine: string) {}

  take(at: number, e: RunEvent): void {
    if (e.type === 'channel') this.onChannel(at, e);
    const channel = e.channel ?? this.current;
    if (e.type === 'stage') this.onStage(at, e, channel);
    if (e.type === 'image') this.onImage(at, e, channel);
  }

  closeAll(at: number): void {
    for (const s of this.stages.values()) s.end = at;
    for (const b of this.builds.values()) b.end = at;
    for (const c of this.t.channels) if (c.end < 0) c.end = at;
  }

  private onChannel(at: number, e: Extract<RunEvent, { type: 'channel' }>): void {
    if (e.state === 'started') {
      this.current = e.channel;
      this.t.channels.push({ channel: e.channel, start: at, end: -1 });
      return;
    }
    const span = [...this.t.channels].reverse().find((c) => c.channel === e.channel);
    if (span) Object.assign(span, { end: at }, fields(e, ['outcome', 'release', 'detail']));
    // Channels run at once: end only this channel's open spans.
    for (const [key, s] of [...this.stages, ...this.builds]) {
      if (s.channel !== e.channel) continue;
      s.end = at;
      this.stages.delete(key);
      this.builds.delete(key);
    }
  }

  private onStage(at: number, e: Extract<RunEvent, { type: 'stage' }>, channel: string): void {
    const key = `${channel}|${e.stage}`;
    if (e.state === 'started') {
      const span: StageSpan = { channel, stage: e.stage, start: at, end: at, state: 'unfinished' };
      this.stages.set(key, span);
      this.t.stages.push(span);
      return;
    }
    const span = this.stages.get(key) ?? this.pushStage(channel, e.stage, at);
    Object.assign(span, { end: at, state: e.state }, fields(e, ['detail']));
    this.stages.delete(key);
  }

  private pushStage(channel: string, stage: string, at: number): StageSpan {
    const span: StageSpan = { channel, stage, start: at, end: at, state: 'unfinished' };
    this.t.stages.push(span);
    return span;
  }

  private onImage(at: number, e: Extract<RunEvent, { type: 'image' }>, channel: string): void {
    const id = `${channel}|${e.image} ${e.platform ?? ''}`;
    const running = this.builds.get(id);
    if (e.state === 'reused') this.t.reused[channel] = (this.t.reused[channel] ?? 0) + 1;
    if (e.state === 'built' && running) running.built = at;
    if (e.state === 'pushed' && running) this.close(id, running, at, 'pushed');
    if (e.state !== 'building' || !e.platform) return;
    if (running) this.close(id, running, at, 'refused');
    const via = e.via ?? 'unknown';
    const span: BuildSpan = { channel, image: e.image, platform: e.platform, via, engine: e.engine ?? (via === 'buildkit' ? this.engine : 'local'),
      start: at, end: at, outcome: 'unfinished' };
    this.builds.set(id, span);
    this.t.builds.push(span);
  }

  private close(id: string, span: BuildSpan, at: number, outcome: BuildSpan['outcome']): void {
    span.end = at;
    span.outcome = outcome;
    this.builds.delete(id);
  }
}

function fields<E extends object, K extends keyof E & string>(e: E, keys: K[]): Partial<Pick<E, K>> {
  return Object.fromEntries(keys.filter((k) => e[k] !== undefined).map((k) => [k, e[k]])) as Partial<Pick<E, K>>;
}

/** Records a run's events as they pass to `next`, each stamped with the time it was emitted. */
export interface TimelineRecorder {
  emit(next: Emit): Emit;
  timeline(): Timeline;
}

export function timelineRecorder(engine: string, now: () => number = Date.now): TimelineRecorder {
  const events: StampedEvent[] = [];
  return {
    emit: (next) => (event) => {
      if (event.type !== 'step' && event.type !== 'log') events.push({ at: now(), event });
      next(event);
    },
    timeline: () => timelineOf(events, engine),
  };
}

/** The part of a run's timeline that is one channel's, from the channel's start. */
export function channelTimeline(t: Timeline, channel: string): Timeline {
  const span = t.channels.find((c) => c.channel === channel) ?? { channel, start: 0, end: t.ms };
  const shift = <S extends Span>(s: S): S => ({ ...s, start: s.start - span.start, end: s.end - span.start, ...('built' in s && typeof s.built === 'number' ? { built: s.built - span.start } : {}) });
  return {
    startedAt: t.startedAt + span.start, ms: span.end - span.start, engine: t.engine, channels: [shift(span)],
    stages: t.stages.filter((s) => s.channel === channel).map(shift), builds: t.builds.filter((b) => b.channel === channel).map(shift),
    reused: { [channel]: t.reused[channel] ?? 0 },
  };
}

/** Seconds, for labels: 0.4s, 12.3s, 754s. */
export function seconds(ms: number): string {
  return ms >= 100_000 ? `${Math.round(ms / 1000)}s` : `${(ms / 1000).toFixed(1)}s`;
}
