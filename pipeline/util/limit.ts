/** limiter(): a counting semaphore as a function, over the one wait queue (turns.ts). */
import { Turns } from './turns.ts';

/** At most `n` tasks run at once; the rest wait in the order they came. */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  const turns = new Turns(n, { what: 'the number of tasks at once' });
  return (task) => turns.run(task);
}
