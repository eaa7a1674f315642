/**
 * The `eksd` command line: parse, dispatch to a command, print errors as one cause plus a hint. Every
 * line a command prints, on stdout (progress, summaries, --json) or stderr, goes through redact().
 */
import { parseArgs } from 'node:util';
import { EksdError, errorKind, redact, type ErrorKind } from '../errors.ts';
import { writeFailure } from '../util/fs-errors.ts';
import { assertReleaseRef } from '../release/naming.ts';
import { EXIT, type Command, type CommandContext } from './command.ts';
import { commands as productCommands } from './commands/index.ts';
import { exitCodeFor } from '../app/stop.ts';
import { listenForStop } from './signals.ts';

export interface Io { out: (line: string) => void; err: (line: string) => void }

const stdio: Io = {
  out: (line) => { process.stdout.write(`${line}\n`); },
  err: (line) => { process.stderr.write(`${line}\n`); },
};

/** Runs `argv`; `extra` commands (the local environment's, from the entry point) join the product's. */
export async function main(argv: string[], given: Io = stdio, extra: Command[] = []): Promise<number> {
  const io: Io = { out: (line) => given.out(redact(line)), err: (line) => given.err(redact(line)) };
  const commands = [...productCommands, ...extra];
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(topHelp(commands));
    return name ? EXIT.ok : EXIT.badInput;
  }
  if (name === '--version') { io.out('eksd 0.1.0'); return EXIT.ok; }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`eksd: unknown command '${name}'\n  hint: run 'eksd --help' to list commands`);
    return EXIT.badInput;
  }
  let ctx: CommandContext;
  try {
    const parsed = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if (parsed.values.help) { io.out(commandHelp(command)); return EXIT.ok; }
    ctx = { args: parsed.positionals, values: parsed.values as CommandContext['values'], out: io.out, err: io.err };
  } catch (e) {
    io.err(`eksd ${name}: ${(e as Error).message}\n  hint: run 'eksd ${name} --help'`);
    return EXIT.badInput;
  }
  try {
    // A release name given on the command line is checked here, so a malformed one (kubernetes-01-33-eks-1)
    // is refused as such instead of being looked for as a file.
    for (const arg of ctx.args) assertReleaseRef(arg, `argument '${arg}'`);
  } catch (e) {
    report(e, name, io.err);
    return EXIT.badInput;
  }
  const listener = command.stoppable ? listenForStop(name, io.err) : undefined;
  try {
    return await command.run({ ...ctx, ...(listener ? { stop: listener.stop } : {}) });
  } catch (e) {
    const code = report(e, name, io.err);
    const signal = listener?.stop.signal;
    return code === EXIT.interrupted && signal ? exitCodeFor(signal) : code;
  } finally {
    listener?.remove();
  }
}

function report(thrown: unknown, name: string, printErr: (l: string) => void): number {
  // A full disk or an unwritable folder, wherever it surfaced, is reported as that, naming the path.
  const e = writeFailure(thrown) ?? thrown;
  if (e instanceof EksdError) {
    printErr(`eksd ${name}: ${e.describe()}`);
    return EXIT_FOR[errorKind(e.code)];
  }
  printErr(`eksd ${name}: unexpected error: ${(e as Error)?.stack ?? String(e)}`);
  return EXIT.failed;
}

const EXIT_FOR: Record<ErrorKind, number> = { input: EXIT.badInput, verify: EXIT.verifyFailed, busy: EXIT.busy, interrupted: EXIT.interrupted, failure: EXIT.failed };

function topHelp(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'eksd: rebuild, publish, release, verify and announce an EKS Distro channel',
    '',
    'Usage: eksd <command> [options]   (eksd <command> --help for details)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Exit codes: 0 success, 1 failure, 2 bad input (catalog, config, flags), 3 verification failed,',
    '            4 another run holds the channel lease, 10 watch-base: the upstream base changed,',
    '            130 / 143 release, republish or announce stopped by SIGINT / SIGTERM (run it again to resume).',
  ].join('\n');
}

export function commandHelp(c: Command): string {
  const rows = Object.entries(c.options).map(([k, o]) => {
    const flag = `--${k}${o.type === 'string' ? ` <${o.valueName ?? 'value'}>` : ''}`;
    return [flag, o.description] as const;
  });
  const width = Math.max(0, ...rows.map((r) => r[0].length));
  return [
    `Usage: ${c.usage}`, '', c.summary, ...(c.details ? ['', c.details] : []), '',
    'Options:', ...rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`), `  ${'--help'.padEnd(width)}  show this help`,
  ].join('\n');
}
