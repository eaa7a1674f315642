/** What a run tells its reporters. Stages emit; reporters (report/) render for a terminal, CI or JSON. */
export type RunEvent = (
  | { type: 'stage'; stage: string; state: 'started' | 'finished' | 'skipped'; detail?: string; ms?: number }
  | { type: 'image'; image: string; platform?: string; state: 'reused' | 'building' | 'built' | 'pushed' | 'indexed'; detail?: string; ms?: number }
  | { type: 'step'; image: string; platform: string; name: string; state: 'started' | 'done' | 'cached' }
  | { type: 'log'; image: string; platform: string; text: string }
  | { type: 'info'; message: string }
  /** The channel it is about, when a run releases several channels at once. */
) & { channel?: string };

export type Emit = (event: RunEvent) => void;
