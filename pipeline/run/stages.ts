/** The points a release run can stop after (`eksd release --until`), in the order a run passes them. */
export const STAGES = ['plan', 'publish', 'release', 'verify', 'announce'] as const;

export type Stage = typeof STAGES[number];

/** Whether a run that stops after `until` (default: the whole release) gets to `stage`. */
export function reaches(until: Stage | undefined, stage: Stage): boolean {
  return STAGES.indexOf(until ?? 'announce') >= STAGES.indexOf(stage);
}
