import type { Command } from '../command.ts';
import { catalogCommand } from './catalog.ts';
import { envCommand } from './env.ts';
import { planCommand, releaseCommand } from './release.ts';
import { verifyCommand } from './verify.ts';
import { announceCommand } from './announce.ts';
import { watchBaseCommand } from './watch-base.ts';
import { demoCommand } from './demo.ts';
import { republishCommand } from './republish.ts';

export const commands: Command[] = [catalogCommand, planCommand, releaseCommand, verifyCommand, announceCommand, watchBaseCommand, republishCommand, envCommand, demoCommand];
