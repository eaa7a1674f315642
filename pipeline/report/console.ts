/**
 * Renders run events for people. On a terminal: finished work as lines plus one live status line of what
 * is building. In CI (no TTY): one line per finished step, image and stage, so logs read top to bottom.
 * With --json-events: one JSON object per event (NDJSON) for machines.
 */
import type { RunEvent } from '../stages/events.ts';
import { redact } from '../errors.ts';

export interface Reporter { emit(e: RunEvent): void; close(): void }

export function consoleReporter(stream: NodeJS.WriteStream = process.stderr, mode: 'auto' | 'plain' | 'json' = 'auto'): Reporter {
  if (mode === 'json') return { emit: (e) => stream.write(`${redact(JSON.stringify(e))}\n`), close: () => {} };
  const live = mode === 'auto' && stream.isTTY === true && !process.env.CI;
  const started = Date.now();
  const building = new Map<string, string>();
  let statusShown = false;
  const clock = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
  const print = (line: string) => {
    if (statusShown) stream.write('\r\x1b[K');
    stream.write(`${clock()} ${channel}${redact(line)}\n`);
    statusShown = false;
    if (live && building.size > 0) {
      const status = `building ${building.size}: ${[...building.entries()].map(([k, v]) => `${k} ${v}`).join(' | ')}`;
      stream.write(status.slice(0, (stream.columns ?? 120) - 1));
      statusShown = true;
    }
  };
  let channel = '';
  return {
    emit(e) {
      channel = e.channel ? `[${e.channel}] ` : '';
      switch (e.type) {
        case 'stage':
          print(`${e.state === 'started' ? '==>' : e.state === 'skipped' ? '--' : ' ok'} ${e.stage}${e.detail ? `: ${e.detail}` : ''}${e.ms !== undefined ? ` (${(e.ms / 1000).toFixed(1)}s)` : ''}`);
          break;
        case 'image': {
          const id = `${e.image}${e.platform ? ` ${e.platform}` : ''}`;
          if (e.state === 'building') building.set(id, 'starting');
          if (e.state === 'pushed' || e.state === 'reused') building.delete(id);
          if (e.state !== 'building' || !live) print(`${e.state.padEnd(8)} ${id}${e.detail ? `  ${e.detail}` : ''}${e.ms !== undefined ? ` (${(e.ms / 1000).toFixed(1)}s)` : ''}`);
          else print(`building ${id}  ${e.detail ?? ''}`);
          break;
        }
        case 'step': {
          const id = `${e.image} ${e.platform}`;
          if (live) { building.set(id, e.name.slice(0, 40)); print(`  ${e.state === 'cached' ? 'cached' : 'done  '} ${id}: ${e.name}`); }
          else stream.write(`${clock()} ${channel}  ${e.state === 'cached' ? 'cached' : 'done  '} ${id}: ${redact(e.name)}\n`);
          break;
        }
        case 'log':
          break;
        case 'info':
          print(e.message);
          break;
      }
    },
    close() { if (statusShown) stream.write('\r\x1b[K'); },
  };
}
