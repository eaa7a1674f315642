/**
 * The differential soak: `npm run fuzz:assemble -- --cases N --seed S [--concurrency C] [--no-shrink] [--save DIR]`.
 * Generates N cases from the seed, builds each with BuildKit and with the assembler, and prints the
 * count, the seed, the time, the refusals by reason and every difference (shrunk). Exit 1 when any differs.
 * `--save DIR` writes each shrunk case as JSON, ready for the fixed corpus (test/fixtures/assemble/differential/).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateCase } from './generate.ts';
import { openHarness, runCases } from './session.ts';

const { values } = parseArgs({ options: {
  cases: { type: 'string', default: '200' }, seed: { type: 'string', default: String(Date.now()) },
  concurrency: { type: 'string', default: '3' }, 'no-shrink': { type: 'boolean', default: false }, save: { type: 'string' },
  help: { type: 'boolean', default: false },
} });
if (values.help) {
  process.stdout.write('usage: npm run fuzz:assemble -- [--cases N] [--seed S] [--concurrency C] [--no-shrink] [--save DIR]\n');
  process.exit(0);
}
const n = Number(values.cases);
const seed = values.seed!;
const started = Date.now();
const h = await openHarness();
let done = 0;
try {
  const cases = Array.from({ length: n }, (_, i) => generateCase(seed, i));
  const tally = await runCases(h, cases, { concurrency: Number(values.concurrency), shrink: !values['no-shrink'], onResult: (c, r) => {
    done++;
    if (r.differences.length > 0) process.stdout.write(`case ${c.id}: ${r.differences[0]}\n`);
    if (done % 50 === 0) process.stdout.write(`${done}/${n} cases, ${Math.round((Date.now() - started) / 1000)} s\n`);
  } });
  const seconds = Math.round((Date.now() - started) / 1000);
  const refused = [...tally.refused.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`\nseed ${seed}: ${tally.cases} cases in ${seconds} s: ${tally.equal} equal, ${tally.bothFailed} failed both ways, ${refused} refused by the qualifier, ${tally.different.length} different\n`);
  for (const [why, count] of [...tally.refused].sort((a, b) => b[1] - a[1])) process.stdout.write(`  refused ${String(count).padStart(4)}: ${why}\n`);
  for (const [i, f] of tally.different.entries()) {
    process.stdout.write(`\n--- difference ${i + 1}\n${f.report}\n`);
    if (values.save) {
      await mkdir(values.save, { recursive: true });
      await writeFile(join(values.save, `found-${seed}-${i + 1}.json`), `${JSON.stringify({ ...f.shrunk, why: f.differences[0], expect: 'equal' }, null, 2)}\n`);
    }
  }
  process.exitCode = tally.different.length > 0 ? 1 : 0;
} finally {
  await h.close();
}
