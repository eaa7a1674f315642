/** What renders a run's events for people or machines (console.ts picks one). */
import type { RunEvent } from '../stages/events.ts';

export interface Reporter {
  /** How it renders: live on a terminal, plain lines, or JSON. */
  readonly kind: 'live' | 'plain' | 'json';
  emit(e: RunEvent): void;
  close(): void;
}
