#!/usr/bin/env node
// Runs the compiled build (dist/, from `npm run build`) when it was made from the sources as they are now,
// else the TypeScript sources directly through tsx's loader: a stale build never runs.
import { pathToFileURL } from 'node:url';
import { freshBuild } from './sources.js';

// A closed pipe (eksd catalog | head) is a normal way to stop reading, not an error.
process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
const built = freshBuild();
let entry;
if (built) {
  entry = pathToFileURL(built).href;
} else {
  const { register } = await import('tsx/esm/api');
  register();
  entry = new URL('../dev/cli.ts', import.meta.url).href;
}
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
