/** `eksd <args>` in this process (the dev CLI, as bin/eksd.js runs it), with what it printed. */
import { main } from '../../dev/cli.ts';

export async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => { out.push(l); }, err: (l) => { err.push(l); } });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
