/**
 * The `eksd` entry point (bin/eksd.js): the product's command line plus `eksd env` and `eksd demo`,
 * which live here, outside pipeline/, so the product never depends on the local environment.
 */
import { main as productMain, type Io } from '../pipeline/cli/main.ts';
import { devCommands } from './commands/index.ts';

export function main(argv: string[], io?: Io): Promise<number> {
  return productMain(argv, io, devCommands);
}
