import type { Command } from '../command.ts';
import { catalogCommand } from './catalog.ts';
import { envCommand } from './env.ts';

export const commands: Command[] = [catalogCommand, envCommand];
