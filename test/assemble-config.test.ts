/** The assembler's switch: on by default; off through build.assemble, EKSD_ASSEMBLE=0; anything else is refused naming the key. */
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../pipeline/config/config.ts';

const root = mkdtempSync(join(tmpdir(), 'eksd-assemble-config-'));

test('the assembler is on by default', (t) => {
  t.true(loadConfig({ env: {}, root }).build.assemble);
});

test('EKSD_ASSEMBLE=0 or build.assemble: false sends every image through BuildKit', (t) => {
  t.false(loadConfig({ env: { EKSD_ASSEMBLE: '0' }, root }).build.assemble);
  t.true(loadConfig({ env: { EKSD_ASSEMBLE: '1' }, root }).build.assemble);
  const file = join(root, 'buildkit-only.yaml');
  writeFileSync(file, 'build:\n  assemble: false\n');
  t.false(loadConfig({ configFile: file, env: {}, root }).build.assemble);
  t.true(loadConfig({ configFile: file, env: { EKSD_ASSEMBLE: 'true' }, root }).build.assemble, 'the variable wins over the file');
});

test('a value that is not a boolean is refused, naming the key', (t) => {
  const e = t.throws(() => loadConfig({ env: { EKSD_ASSEMBLE: 'maybe' }, root }));
  t.regex(`${e!.message} ${(e as { where?: string }).where ?? ''}`, /assemble/);
});
