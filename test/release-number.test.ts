/**
 * `--number` at or below a number the channel already released is refused when the run opens: before
 * anything is fetched, built, pushed or written, with the channel, the number given, the latest release
 * and what to do. A base update is pending, so a run that went on would build and push.
 */
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { RegistryClient } from '../pipeline/registry/client.ts';
import { LOCAL_REGISTRY, releasedProject, repositoriesOf, type TestProject } from './helpers/project.ts';

/** Every tag of the project's repositories, and every file of its site. */
async function snapshot(p: TestProject): Promise<{ tags: Record<string, string[]>; site: string[] }> {
  const client = new RegistryClient({ registry: LOCAL_REGISTRY });
  const tags: Record<string, string[]> = {};
  for (const repo of await repositoriesOf(p)) tags[repo] = (await client.listTags(repo)).sort();
  const siteDir = join(p.root, 'out', 'site');
  const site = readdirSync(siteDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile())
    .map((d) => relative(siteDir, join(d.parentPath, d.name))).sort();
  return { tags, site };
}

/** The stages a run started, from its --events json progress on stderr. */
function stagesStarted(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; stage?: string; state?: string })
    .filter((e) => e.type === 'stage' && e.state === 'started').map((e) => e.stage!);
}

test('--number at or below the latest release is refused before any side effect', async (t) => {
  const p = await releasedProject();
  t.teardown(() => p.cleanup());
  const second = await p.eksd(['release', '--release-unchanged']);
  t.is(second.code, 0, second.stderr);
  await p.seed({ update: true });
  const before = await snapshot(p);
  t.true(before.site.includes('kubernetes-1-33/kubernetes-1-33-eks-2.yaml'));

  for (const [number, how] of [['1', 'below'], ['2', 'the number of']] as const) {
    const r = await p.eksd(['release', '--number', number, '--release-unchanged', '--events', 'json']);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, new RegExp(`RELEASE_NUMBER_USED: --number ${number} is ${how} the latest release of channel 1-33, kubernetes-1-33-eks-2`));
    t.regex(r.stderr, /leave out --number to release kubernetes-1-33-eks-3, or give a number above 2/);
    t.deepEqual(stagesStarted(r.stderr), ['catalog'], 'the run stopped when it opened: nothing resolved, built or pushed');
    t.deepEqual(await snapshot(p), before, 'no new tag in the registry, no new object on the site');
    t.false(existsSync(join(p.config().stateDir, 'runs', '1-33', 'current.json')), 'no run journal started');
  }
  const plan = await p.eksd(['release', '--dry-run', '--number', '3']);
  t.is(plan.code, 0, plan.stderr);
});
