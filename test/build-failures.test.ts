/**
 * Failures stop a release cleanly: a failing Dockerfile step is reported with the image, platform, step
 * and log tail and moves no tag; an artifact that does not match its pinned checksums stops the run
 * before anything is built or pushed.
 */
import anyTest, { type TestFn } from 'ava';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCatalog, loadPin } from '../pipeline/catalog/load.ts';
import { makePlan } from '../pipeline/plan/plan.ts';
import { artifactUrl } from '../pipeline/resolve/artifacts.ts';
import { RegistryClient } from '../pipeline/registry/index.ts';
import { makeProject, repositoriesOf, LOCAL_REGISTRY, type TestProject } from './helpers/project.ts';
import { fileURLToPath } from 'node:url';

const test = anyTest as TestFn<{ projects: TestProject[] }>;
test.before((t) => { t.context = { projects: [] }; });
test.after.always(async (t) => { await Promise.all(t.context.projects.map((p) => p.cleanup())); });

async function project(t: { context: { projects: TestProject[] } }): Promise<TestProject> {
  const p = await makeProject({ catalog: 'mini' });
  t.context.projects.push(p);
  await p.seed();
  return p;
}

test('a failing Dockerfile step names image, platform and step with its log tail, and moves no tag', async (t) => {
  const p = await project(t);
  const dockerfile = join(p.root, 'base', 'eks-distro-base', 'Dockerfile');
  writeFileSync(dockerfile, `${readFileSync(dockerfile, 'utf8')}RUN echo "checking $(uname -m)"; if [ "$(uname -m)" = aarch64 ]; then echo "no updates for $(uname -m): repository metadata is corrupt" >&2; sleep 1; exit 7; fi\n`);
  const r = await p.eksd(['release', '--until', 'publish', '--events', 'plain']);
  t.is(r.code, 1, r.stderr.slice(-3000));
  const line = r.stderr.split('\n').find((l) => l.includes('BUILD_FAILED')) ?? '';
  t.regex(line, /BUILD_FAILED: eks-distro-base linux\/arm64: step "\[3\/3\] RUN echo "checking \$\(uname -m\)"; if \[/, r.stderr.slice(-3000));
  t.regex(line, /exit code: 7/);
  t.regex(line, /\(at eks-distro-base linux\/arm64 Dockerfile\)/);
  const hint = r.stderr.slice(r.stderr.indexOf(line));
  t.regex(hint, /hint: last (error output|log lines):\n[\s\S]*no updates for aarch64: repository metadata is corrupt/);

  // Pointers move last: nothing of this run is tagged, not even the images that built fine.
  const config = p.config();
  const plan = makePlan(config, loadCatalog(config), loadPin(config.basePin), 1);
  const client = new RegistryClient({ registry: LOCAL_REGISTRY });
  for (const image of plan.images) {
    for (const tag of [image.tags.versioned, ...image.tags.floating]) {
      t.is(await client.headManifest(image.repository, tag), undefined, `${image.repository}:${tag}`);
    }
  }
  // The images that do not depend on the broken one were built and pushed by digest all the same.
  t.true((await repositoriesOf(p)).includes(`${p.ns}/eks-distro-build-tooling/eks-distro-minimal-base`));
});

test('a corrupted artifact stops the run before anything is built or pushed, naming the artifact', async (t) => {
  const p = await project(t);
  const config = p.config();
  const etcd = loadCatalog(config).components.find((c) => c.name === 'etcd')!.artifacts.find((a) => a.platform === 'linux/arm64')!;
  appendFileSync(fileURLToPath(artifactUrl(config.artifacts.baseUrl, etcd)), 'tampered');
  const r = await p.eksd(['release', '--until', 'publish', '--events', 'plain']);
  t.is(r.code, 1, r.stderr.slice(-3000));
  t.regex(r.stderr, /ARTIFACT_INVALID: 1 artifact\(s\) failed verification; nothing was built or pushed/);
  t.regex(r.stderr, new RegExp(`etcd/${etcd.name.replace(/\./g, '\\.')}: checksum mismatch, got sha256 [0-9a-f]{64}, sha512`));
  t.notRegex(r.stderr, /building /);
  t.deepEqual(await repositoriesOf(p), [`${p.ns}/amazonlinux`], 'only the seeded upstream is in the namespace');
});

test('a wrong pinned checksum in component.yaml stops the run before anything is built or pushed', async (t) => {
  const p = await project(t);
  const file = join(p.root, 'images', 'cni-plugins', 'component.yaml');
  const text = readFileSync(file, 'utf8');
  const pinned = /sha512: ([0-9a-f]{128})/.exec(text)![1]!;
  writeFileSync(file, text.replace(pinned, `${'0'.repeat(16)}${pinned.slice(16)}`));
  const r = await p.eksd(['release', '--until', 'publish', '--events', 'plain']);
  t.is(r.code, 1, r.stderr.slice(-3000));
  t.regex(r.stderr, /ARTIFACT_INVALID: 1 artifact\(s\) failed verification/);
  t.regex(r.stderr, /cni-plugins\/[^:]+: checksum mismatch, got sha512 [0-9a-f]{16}\.\.\./);
  t.regex(r.stderr, /pinned at .*images\/cni-plugins\/component\.yaml/);
  t.deepEqual(await repositoriesOf(p), [`${p.ns}/amazonlinux`]);
});
