/** Each build step's output lines, for the hint of a failed step: the tail, and the error lines it would miss. */
const LOG_TAIL = 20;
const ERROR_TAIL = 10;

/**
 * Each step's output lines. BuildKit ships stdout and stderr in separate batches, so a step's last error
 * line can arrive before a burst of its output; the hint shows the error lines the tail would miss.
 */
export class StepLogs {
  private readonly lines = new Map<string, Array<{ text: string; stderr: boolean }>>();

  add(step: string, text: string, stderr: boolean): void {
    const list = this.lines.get(step) ?? this.lines.set(step, []).get(step)!;
    for (const line of text.split('\n')) if (line) list.push({ text: line, stderr });
  }

  hint(step: string): string {
    const all = this.lines.get(step) ?? [];
    if (all.length === 0) return 'run the step by hand to see its output';
    const tail = all.slice(-LOG_TAIL);
    const missed = all.slice(0, -LOG_TAIL).filter((l) => l.stderr).slice(-ERROR_TAIL);
    const block = (title: string, lines: typeof all): string => `${title}:\n    ${lines.map((l) => l.text).join('\n    ')}`;
    return [...(missed.length ? [block('last error output', missed)] : []), block('last log lines', tail)].join('\n  ');
  }
}
