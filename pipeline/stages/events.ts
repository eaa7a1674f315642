/** What a run tells its reporters. Stages emit; reporters (report/) render for a terminal, CI or JSON. */
export type RunEvent = (
  /** A channel's list, around its stages (`eksd release`): what became of it, and the release it wrote. */
  | { type: 'channel'; channel: string; state: 'started' | 'finished'; outcome?: string; release?: string; detail?: string; ms?: number }
  | { type: 'stage'; stage: string; state: 'started' | 'finished' | 'skipped'; detail?: string; ms?: number }
  | { type: 'image'; image: string; platform?: string; state: 'reused' | 'building' | 'built' | 'pushed' | 'indexed'; detail?: string; ms?: number;
    /** On 'building': the path the build takes (the builder's name: assemble, buildkit), and its engine. */
    via?: string; engine?: string }
  | { type: 'step'; image: string; platform: string; name: string; state: 'started' | 'done' | 'cached' }
  | { type: 'log'; image: string; platform: string; text: string }
  /** `progress`: a passing note of what is being done now (fetching an artifact); a terminal lets it go. */
  | { type: 'info'; message: string; progress?: true }
  /** The channel it is about, when a run releases several channels at once. */
) & { channel?: string };

export type Emit = (event: RunEvent) => void;
