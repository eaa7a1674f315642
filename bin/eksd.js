#!/usr/bin/env node
// Runs the TypeScript sources directly (no build step needed) through tsx's loader.
import { register } from 'tsx/esm/api';
register();
// A closed pipe (eksd catalog | head) is a normal way to stop reading, not an error.
process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
const { main } = await import('../pipeline/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
