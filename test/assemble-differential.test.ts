/**
 * The assembler against BuildKit, on the real engine and registry (test/differential/): every case of
 * the fixed corpus (test/fixtures/assemble/differential/, each difference ever found, kept) gives what it
 * says (the two images equal, or the qualifier's refusal), and a fixed seed's generated cases, enough to
 * reach every branch of the generator, show no difference. `npm run fuzz:assemble` is the longer soak.
 */
import anyTest, { type TestFn } from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeCase, type CorpusCase } from './differential/case.ts';
import { branches, BRANCHES, generateCase } from './differential/generate.ts';
import { runCase, type Harness } from './differential/harness.ts';
import { openHarness, runCases } from './differential/session.ts';
import { REPO_ROOT } from './helpers/project.ts';

const test = anyTest as TestFn<{ h: Harness & { close(): Promise<void> } }>;
const CORPUS = join(REPO_ROOT, 'test', 'fixtures', 'assemble', 'differential');
const SEED = 'eksd-differential-1';
const COUNT = 60;

test.before(async (t) => { t.context.h = await openHarness(); });
test.after.always(async (t) => { await t.context.h?.close(); });

for (const file of readdirSync(CORPUS).filter((f) => f.endsWith('.json')).sort()) {
  const c = JSON.parse(readFileSync(join(CORPUS, file), 'utf8')) as CorpusCase;
  test(`corpus ${file.replace(/\.json$/, '')}: ${c.why}`, async (t) => {
    const r = await runCase(t.context.h, c);
    if (c.expect === 'equal') {
      t.is(r.assembled.kind, 'image', `${describeCase(c)}\nassembled: ${JSON.stringify(r.assembled).slice(0, 400)}`);
      t.is(r.buildkit.kind, 'image', `BuildKit: ${JSON.stringify(r.buildkit).slice(0, 400)}`);
      t.deepEqual(r.differences, [], describeCase(c));
    } else {
      t.is(r.assembled.kind, 'refused', describeCase(c));
      if (r.assembled.kind === 'refused') t.true(r.assembled.reason.includes(c.expect.refused), r.assembled.reason);
    }
  });
}

test(`generated cases (seed ${SEED}, ${COUNT} cases) reach every branch of the generator and show no difference`, async (t) => {
  const cases = Array.from({ length: COUNT }, (_, i) => generateCase(SEED, i));
  const reached = new Set(cases.flatMap(branches));
  t.deepEqual(BRANCHES.filter((b) => !reached.has(b)), [], 'branches no case reaches: raise the count or change the seed');
  const tally = await runCases(t.context.h, cases, { concurrency: 3, shrink: false });
  t.is(tally.cases, COUNT);
  t.true(tally.equal >= COUNT / 2, `equal ${tally.equal}, refused ${[...tally.refused.values()].reduce((a, b) => a + b, 0)}`);
  t.deepEqual(tally.different.map((f) => f.report), []);
});
