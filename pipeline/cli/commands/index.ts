/** The product's commands; the local environment and the demo (dev/) add theirs at the entry point. */
import type { Command } from '../command.ts';
import { catalogCommand } from './catalog.ts';
import { planCommand, releaseCommand } from './release.ts';
import { verifyCommand } from './verify.ts';
import { announceCommand } from './announce.ts';
import { watchBaseCommand } from './watch-base.ts';
import { republishCommand } from './republish.ts';
import { siteCommand } from './site.ts';
import { buildCommand, planIdCommand } from './build.ts';

export const commands: Command[] = [catalogCommand, planCommand, releaseCommand, buildCommand, planIdCommand, verifyCommand, announceCommand, watchBaseCommand, republishCommand, siteCommand];
