/**
 * `eksd demo`, the README's first command: release N, a stand-in AL2 update, release N+1, what changed,
 * both verified. A second checkout on the same machine shares the registry but not the site: versioned
 * tags are immutable, so its demo must take the next free numbers rather than fail.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { makeProject } from './helpers/project.ts';
import { tail } from './helpers/crash.ts';

test('the demo releases N and N+1 and verifies both; a second checkout sharing the registry takes the next free numbers', async (t) => {
  const a = await makeProject({ catalog: 'mini' });
  t.teardown(() => a.cleanup());
  const first = await a.eksd(['demo']);
  t.is(first.code, 0, `${tail(first.stderr)}\n${tail(first.stdout)}`);
  t.regex(first.stdout, /=== 7\. what changed from kubernetes-1-33-eks-1 to kubernetes-1-33-eks-2/);
  t.regex(first.stdout, /\d+ of \d+ images have new digests/);
  t.regex(first.stdout, /kubernetes-1-33-eks-1: verified[\s\S]*kubernetes-1-33-eks-2: verified/);
  for (const n of [1, 2]) {
    t.true(existsSync(join(a.root, 'out', 'site', 'kubernetes-1-33', `kubernetes-1-33-eks-${n}.yaml`)));
    t.true(existsSync(join(a.root, 'out', 'announcements', `kubernetes-1-33-eks-${n}.json`)));
  }

  const b = await makeProject({ catalog: 'mini' });
  t.teardown(() => b.cleanup());
  const own = parse(readFileSync(b.configFile, 'utf8')) as Record<string, unknown>;
  const shared = parse(readFileSync(a.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(b.configFile, stringify({ ...own, imageRepo: shared.imageRepo, baseImageRepo: shared.baseImageRepo }));
  const second = await b.eksd(['demo']);
  t.is(second.code, 0, `${tail(second.stderr)}\n${tail(second.stdout)}`);
  t.regex(second.stdout, /the registry already holds tags of release 2 of channel 1-33 \(from an earlier run on this machine\): releasing 3/);
  t.regex(second.stdout, /kubernetes-1-33-eks-3: verified[\s\S]*kubernetes-1-33-eks-4: verified/);
});
