/**
 * SIGTERM and SIGINT for commands that run a release: instead of dying on the spot (leaving the channel's
 * lease held for its whole lifetime), the command is asked to stop at its next safe point (app/stop.ts)
 * and ends with 128 + the signal's number. A second signal says the stop is under way.
 */
import { StopRequest } from '../app/stop.ts';

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

export interface StopListener { stop: StopRequest; remove(): void }

export function listenForStop(command: string, err: (line: string) => void): StopListener {
  const stop = new StopRequest();
  const onSignal = (signal: NodeJS.Signals): void => {
    const again = stop.signal !== undefined;
    stop.request(signal);
    err(again
      ? `eksd ${command}: ${signal}: already stopping; waiting for the work under way (a build, an announcement being sent) to finish`
      : `eksd ${command}: ${signal} received: stopping at the next safe point (before the next stage or build); the lease is then released`);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return { stop, remove: () => { for (const s of SIGNALS) process.off(s, onSignal); } };
}
