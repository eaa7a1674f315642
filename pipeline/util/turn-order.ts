/**
 * Turns taken in a fixed order by tasks that run at once: the task holding turn N starts its part once
 * turn N-1 is over (done, failed, or given up without taking it).
 */
export interface Turn {
  /** Resolves when every turn before this one is over. */
  ready: Promise<void>;
  /** Ends this turn (again: nothing). */
  over(): void;
}

/** `count` turns, in order. */
export function turnOrder(count: number): Turn[] {
  const turns: Turn[] = [];
  let previous: Promise<void> = Promise.resolve();
  for (let i = 0; i < count; i++) {
    let over!: () => void;
    const ended = new Promise<void>((resolve) => { over = resolve; });
    turns.push({ ready: previous, over });
    previous = ended;
  }
  return turns;
}

/** Runs `part` in the turn (at once without one), and ends the turn however the part ends. */
export async function inTurn<T>(turn: Turn | undefined, part: () => Promise<T>): Promise<T> {
  if (!turn) return part();
  await turn.ready;
  try {
    return await part();
  } finally {
    turn.over();
  }
}
