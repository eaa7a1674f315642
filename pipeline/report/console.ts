/**
 * Renders run events for people. On a terminal: the live view (live.ts), what runs now redrawn in place.
 * In CI (no TTY, or --events plain): one line per finished step, image and stage, so logs read top to
 * bottom. With --json-events: one JSON object per event (NDJSON) for machines.
 */
import { redact } from '../errors.ts';
import { liveReporter } from './live.ts';
import type { Reporter } from './reporter.ts';

export type { Reporter } from './reporter.ts';

export function consoleReporter(stream: NodeJS.WriteStream = process.stderr, mode: 'auto' | 'plain' | 'json' = 'auto'): Reporter {
  if (mode === 'json') return { kind: 'json', emit: (e) => stream.write(`${redact(JSON.stringify(e))}\n`), close: () => {} };
  if (mode === 'auto' && stream.isTTY === true && !process.env.CI) return liveReporter(stream);
  return plainReporter(stream);
}

function plainReporter(stream: NodeJS.WriteStream): Reporter {
  const started = Date.now();
  const clock = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
  let channel = '';
  const print = (line: string) => stream.write(`${clock()} ${channel}${redact(line)}
`);
  return {
    kind: 'plain',
    emit(e) {
      channel = e.channel ? `[${e.channel}] ` : '';
      switch (e.type) {
        case 'stage':
          print(`${e.state === 'started' ? '==>' : e.state === 'skipped' ? '--' : ' ok'} ${e.stage}${e.detail ? `: ${e.detail}` : ''}${e.ms !== undefined ? ` (${(e.ms / 1000).toFixed(1)}s)` : ''}`);
          break;
        case 'image': {
          const id = `${e.image}${e.platform ? ` ${e.platform}` : ''}`;
          print(`${e.state.padEnd(8)} ${id}${e.detail ? `  ${e.detail}` : ''}${e.ms !== undefined ? ` (${(e.ms / 1000).toFixed(1)}s)` : ''}`);
          break;
        }
        case 'step':
          print(`  ${e.state === 'cached' ? 'cached' : 'done  '} ${e.image} ${e.platform}: ${e.name}`);
          break;
        case 'info':
          print(e.message);
          break;
      }
    },
    close: () => {},
  };
}
