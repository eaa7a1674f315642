/**
 * `eksd demo`, the README's first command, on a three-channel catalog: every channel released, a
 * stand-in AL2 update releasing every channel again (each shared build once), a version bump in the
 * newest channel releasing it alone, the oldest channel retired, every channel's latest release
 * verified. A second checkout on the same machine shares the registry but not the site: versioned tags
 * are immutable, so its demo must take the next free numbers rather than fail.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { makeProject } from './helpers/project.ts';
import { tail } from './helpers/crash.ts';

const CHANNELS = ['1-32', '1-33', '1-36'];

/** The OUTCOME column of the table printed after a demo step, by channel. */
function outcomes(stdout: string, step: string): Record<string, string> {
  const section = stdout.split(`=== ${step}`)[1]?.split('\n=== ')[0] ?? '';
  return Object.fromEntries([...section.matchAll(/^(\d+-\d+)\s+(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
}

test('the demo releases every channel, then the AL2 update, a bump and a retirement, and verifies; a second checkout takes the next free numbers', async (t) => {
  const a = await makeProject({ catalog: 'mini', channels: CHANNELS });
  t.teardown(() => a.cleanup());
  const first = await a.eksd(['demo']);
  t.is(first.code, 0, `${tail(first.stderr)}\n${tail(first.stdout)}`);
  t.deepEqual(outcomes(first.stdout, '3.'), { '1-32': 'released', '1-33': 'released', '1-36': 'released' });
  t.deepEqual(outcomes(first.stdout, '5.'), { '1-32': 'released', '1-33': 'released', '1-36': 'released' });
  t.deepEqual(outcomes(first.stdout, '6.'), { '1-32': 'unchanged', '1-33': 'unchanged', '1-36': 'released' });
  t.is(outcomes(first.stdout, '7.')['1-32'], 'retired');
  for (const m of first.stdout.matchAll(/(\d+) platform images built for (\d+) distinct build keys/g)) t.is(m[1], m[2], 'nothing built twice');
  for (const ch of CHANNELS) t.regex(first.stdout, new RegExp(`kubernetes-${ch}-eks-\\d+: verified`));
  t.true(existsSync(join(a.root, 'out', 'site', 'kubernetes-1-33', 'kubernetes-1-33-eks-2.yaml')));
  t.true(existsSync(join(a.root, 'out', 'announcements', 'kubernetes-1-32-retired.json')));
  t.regex(readFileSync(join(a.root, 'images', 'channels.yaml'), 'utf8'), /name: 1-32\n\s+active: true/, 'the checkout\'s catalog is left alone');

  const b = await makeProject({ catalog: 'mini', channels: CHANNELS });
  t.teardown(() => b.cleanup());
  const own = parse(readFileSync(b.configFile, 'utf8')) as Record<string, unknown>;
  const shared = parse(readFileSync(a.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(b.configFile, stringify({ ...own, imageRepo: shared.imageRepo, baseImageRepo: shared.baseImageRepo }));
  const second = await b.eksd(['demo']);
  t.is(second.code, 0, `${tail(second.stderr)}\n${tail(second.stdout)}`);
  t.regex(second.stdout, /the registry already holds tags of release 2 of channel 1-33 \(from an earlier run on this machine\): releasing 3/);
  for (const ch of CHANNELS) t.regex(second.stdout, new RegExp(`kubernetes-${ch}-eks-\\d+: verified`));
});
