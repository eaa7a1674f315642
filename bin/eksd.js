#!/usr/bin/env node
// Runs the TypeScript sources directly (no build step needed) through tsx's loader.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../pipeline/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
