/**
 * The terminal view of a run (stderr a TTY): what runs now, redrawn in place as buildx's terminal
 * progress is, never scrolled: a status line (channel, stage, counts) and one line per running build;
 * finished builds fold into the counts. What stays on the screen: one line per channel when its list
 * ends, and the messages the run has for people. Engine steps and logs are left to the plain and JSON
 * formats.
 */
import { redact } from '../errors.ts';
import type { RunEvent } from '../stages/events.ts';
import type { Reporter } from './reporter.ts';
import { seconds } from '../stages/timeline.ts';

const REDRAW_MS = 250;
const ESC = '\x1b[';
/** The runner's own messages that the channel lines here already say. */
const SAID_BY_CHANNEL_LINES = /^channel \S+( \(retired\)| failed: .*)?$/;
const MARKS: Record<string, string> = { released: '✔', unchanged: '·', planned: '·', retired: '✔', stopped: '■', failed: '✘' };

interface Running { image: string; platform: string; via: string; since: number }

interface Current { channel?: string; stage?: { name: string; since: number }; built: number; reused: number }

export function liveReporter(stream: NodeJS.WriteStream): Reporter {
  const view = new LiveView(stream);
  return { kind: 'live', emit: (e) => view.take(e), close: () => view.close() };
}

class LiveView {
  private readonly started = Date.now();
  private readonly running = new Map<string, Running>();
  private current: Current = { built: 0, reused: 0 };
  private pending: string[] = [];
  /** The latest passing note, shown until the stage ends. */
  private note: string | undefined;
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  take(e: RunEvent): void {
    if (e.type === 'channel') this.onChannel(e);
    if (e.type === 'stage') this.onStage(e);
    if (e.type === 'image') this.onImage(e);
    if (e.type === 'info' && e.progress) this.note = e.message;
    else if (e.type === 'info' && !SAID_BY_CHANNEL_LINES.test(e.message)) this.pending.push(e.message);
    this.redraw();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.running.clear();
    this.note = undefined;
    this.current = { built: 0, reused: 0 };
    this.redraw();
  }

  private onChannel(e: Extract<RunEvent, { type: 'channel' }>): void {
    if (e.state === 'started') {
      this.current = { channel: e.channel, built: 0, reused: 0 };
      return;
    }
    const what = [e.outcome ?? 'done', e.release, e.detail].filter(Boolean).join(' ');
    const counts = this.current.built + this.current.reused > 0 ? `; ${this.current.built} built, ${this.current.reused} reused` : '';
    this.pending.push(`${MARKS[e.outcome ?? ''] ?? '·'} ${e.channel} ${what}${counts}${e.ms !== undefined ? ` (${seconds(e.ms)})` : ''}`);
    this.current = { built: 0, reused: 0 };
  }

  private onStage(e: Extract<RunEvent, { type: 'stage' }>): void {
    this.note = undefined;
    if (e.state === 'started') this.current.stage = { name: e.stage, since: Date.now() };
    else if (this.current.stage?.name === e.stage) delete this.current.stage;
    // Outside a channel's list (other commands) each stage keeps its line.
    if (e.state !== 'started' && !this.current.channel) {
      this.pending.push(`${e.state === 'skipped' ? '--' : 'ok'} ${e.stage}${e.detail ? `: ${e.detail}` : ''}${e.ms !== undefined ? ` (${seconds(e.ms)})` : ''}`);
    }
  }

  private onImage(e: Extract<RunEvent, { type: 'image' }>): void {
    const id = `${e.image} ${e.platform ?? ''}`;
    if (e.state === 'building' && e.platform) this.running.set(id, { image: e.image, platform: e.platform, via: e.via ?? '', since: Date.now() });
    if (e.state === 'pushed') {
      this.running.delete(id);
      this.current.built += 1;
    }
    if (e.state === 'reused') this.current.reused += 1;
  }

  /** Clears what was drawn, prints what is to stay, draws what runs now. */
  private redraw(): void {
    const lines = this.liveLines();
    const width = Math.max(20, (this.stream.columns ?? 100) - 1);
    // Each line overwrites one drawn before and erases its rest; what is left below is erased at the end
    // (erasing from the top of the screen would make some terminals, tmux, keep the old screen in their history).
    const up = this.drawn > 0 ? `\r${ESC}${this.drawn}A` : '';
    const written = [...this.pending.map((l) => redact(l)), ...lines.map((l) => clip(redact(l), width))];
    const rest = written.length < this.drawn ? `${ESC}J` : '';
    if (up || written.length) this.stream.write(`${up}${written.map((l) => `${l}${ESC}K\n`).join('')}${rest}`);
    this.pending = [];
    this.drawn = lines.length;
    this.tick(lines.length > 0);
  }

  /** Elapsed times move on while something runs. */
  private tick(on: boolean): void {
    if (on && !this.timer) this.timer = setInterval(() => this.redraw(), REDRAW_MS).unref();
    if (!on && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private liveLines(): string[] {
    const { channel, stage, built, reused } = this.current;
    if (!channel && !stage && this.running.size === 0) return [];
    const now = Date.now();
    const where = [channel, stage ? `${stage.name} ${seconds(now - stage.since)}` : undefined].filter(Boolean).join(' · ');
    const head = `[${seconds(now - this.started).padStart(6)}] ${where}${built + reused + this.running.size > 0 ? ` · ${built} built, ${reused} reused, ${this.running.size} running` : ''}`;
    const room = Math.max(1, (this.stream.rows ?? 24) - 3);
    const running = [...this.running.values()].sort((a, b) => a.since - b.since);
    const shown = running.slice(0, running.length > room ? room - 1 : room);
    const lines = [head, ...(this.note ? [`  ${this.note}`] : []), ...shown.map((r) => `  => ${`${r.image} ${r.platform}`.padEnd(44)} ${r.via.padEnd(9)} ${seconds(now - r.since).padStart(6)}`)];
    if (shown.length < running.length) lines.push(`  ... and ${running.length - shown.length} more running`);
    return lines;
  }
}

/** One screen line: longer ones would wrap and break the redraw. */
function clip(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}
