/** The commands of the local environment and the demo, added to the product's at the entry point. */
import type { Command } from '../../pipeline/cli/command.ts';
import { envCommand } from './env.ts';
import { demoCommand } from './demo.ts';

export const devCommands: Command[] = [envCommand, demoCommand];
