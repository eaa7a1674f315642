/**
 * The build stage's decisions, as pure data: no Docker, no registry. Each case is a set of facts (what
 * the floating and versioned tags hold, what an interrupted run recorded) and the decision it must give.
 */
import test from 'ava';
import type { Platform } from '../pipeline/config/config.ts';
import { buildKey, withParents, type OwnInputs } from '../pipeline/image/keys.ts';
import type { ImagePlan, Plan } from '../pipeline/plan/plan.ts';
import { ASSEMBLER_FORMAT } from '../pipeline/builders/assembler/assemble.ts';
import type { Answer } from '../pipeline/builders/select.ts';
import { decideAll, decideImage, REASON, type DecideOptions } from '../pipeline/stages/images/decide.ts';
import type { Decision, ImageFacts, TaggedBuild } from '../pipeline/stages/images/types.ts';

const PLATFORMS: Platform[] = ['linux/amd64', 'linux/arm64'];
const digest = (c: string) => `sha256:${c.repeat(64).slice(0, 64)}`;
const UPSTREAM_OLD = { 'linux/amd64': digest('a'), 'linux/arm64': digest('b') };
const UPSTREAM_NEW = { 'linux/amd64': digest('c'), 'linux/arm64': digest('d') };

function imagePlan(name: string, from: string): ImagePlan {
  return { name, kind: from === 'upstream' ? 'base' : 'image', component: name, description: name, release: true, gitTag: 'v1', registry: '127.0.0.1:5000',
    repository: `ns/${name}`, apiRepository: name, platforms: PLATFORMS, from, tags: { versioned: 'v1-eks-1-33-2', floating: ['v1-eks-1-33-latest'] }, uri: '' };
}

function plan(upstream: Partial<Record<Platform, string>>): Plan {
  return { channel: '1-33', number: 2, release: 'kubernetes-1-33-eks-2', artifacts: [],
    upstream: { reference: 'upstream:2', registry: '127.0.0.1:5000', repository: 'upstream', digest: digest('f'), platforms: upstream },
    images: [imagePlan('base', 'upstream'), imagePlan('etcd', 'base')] };
}

const own = (name: string, platform: Platform, recipe = 'r'): OwnInputs => ({ recipe: `${name}-${recipe}`, artifacts: `${name}-a`, args: 'x', platform });

/** What the floating tag holds after a release built `name` FROM the given parent digests. */
function published(name: string, parents: Partial<Record<Platform, string>>, manifestOf: (p: Platform) => string): TaggedBuild {
  return { indexDigest: digest('9'), platforms: Object.fromEntries(PLATFORMS.map((p) => {
    const inputs = withParents(own(name, p), parents[p]!);
    return [p, { key: buildKey(inputs), inputs, manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestOf(p), size: 1 } }];
  })) };
}

const BASE_MANIFESTS = { 'linux/amd64': digest('1'), 'linux/arm64': digest('2') };
const ETCD_MANIFESTS = { 'linux/amd64': digest('3'), 'linux/arm64': digest('4') };

const BUILDKIT: Answer = { builder: 'buildkit', accepts: true, why: 'BuildKit builds any recipe' };
const BUILDKIT_ONLY = Object.fromEntries(PLATFORMS.map((p) => [p, [BUILDKIT]]));

function facts(o: { recipe?: string; tagged?: boolean; published?: boolean } = {}): ImageFacts[] {
  const publishedBase = o.published === false ? undefined : published('base', UPSTREAM_OLD, (p) => BASE_MANIFESTS[p as keyof typeof BASE_MANIFESTS]);
  const publishedEtcd = o.published === false ? undefined : published('etcd', BASE_MANIFESTS, (p) => ETCD_MANIFESTS[p as keyof typeof ETCD_MANIFESTS]);
  const ownOf = (name: string, recipe?: string) => Object.fromEntries(PLATFORMS.map((p) => [p, own(name, p, recipe)]));
  return [
    { plan: imagePlan('base', 'upstream'), own: ownOf('base'), files: {}, views: {}, answers: BUILDKIT_ONLY, ...(publishedBase ? { published: publishedBase } : {}), ...(o.tagged ? { tagged: publishedBase } : {}) },
    { plan: imagePlan('etcd', 'base'), own: ownOf('etcd', o.recipe), files: {}, views: {}, answers: BUILDKIT_ONLY, ...(publishedEtcd ? { published: publishedEtcd } : {}) },
  ];
}

const actions = (d: ReturnType<typeof decideAll>) => d.map((i) => `${i.plan.name}: ${PLATFORMS.map((p) => `${i.platforms[p]!.action} (${i.platforms[p]!.reason})`).join(', ')}`);

test('nothing changed: every platform is reused, with the digests the floating tags hold', (t) => {
  const d = decideAll(plan(UPSTREAM_OLD), facts(), { force: false });
  t.deepEqual(actions(d), ['base: reuse (unchanged), reuse (unchanged)', 'etcd: reuse (unchanged), reuse (unchanged)']);
  const etcd = d[1]!.platforms['linux/arm64'] as Extract<Decision, { action: 'reuse' }>;
  t.is(etcd.manifest.digest, ETCD_MANIFESTS['linux/arm64']);
  t.is(etcd.source, 'published');
});

test('a base update rebuilds the base, and its children wait for it with no key and no placeholder digest', (t) => {
  const d = decideAll(plan(UPSTREAM_NEW), facts(), { force: false });
  t.deepEqual(actions(d), ['base: build (upstream base image updated), build (upstream base image updated)', 'etcd: build (parent base changed), build (parent base changed)']);
  const base = d[0]!.platforms['linux/amd64']!;
  t.truthy(base.key, 'the base knows its key: its parent is the pinned upstream');
  const etcd = d[1]!.platforms['linux/amd64'] as Extract<Decision, { action: 'build' }>;
  t.is(etcd.key, undefined);
  t.is(etcd.inputs, undefined);
  t.deepEqual(etcd.waitsFor, ['base']);
  t.false(JSON.stringify(d).includes('to be built'));
});

test('once the rebuilt parent is pushed, the child is decided again with its real key', (t) => {
  const f = facts();
  const pushed = { 'linux/amd64': digest('5'), 'linux/arm64': digest('6') };
  const d = decideImage(f[1]!, { from: { name: 'base', platforms: PLATFORMS, digests: pushed } }, { force: false });
  const amd = d.platforms['linux/amd64']!;
  t.is(amd.action, 'build');
  t.is(amd.key, buildKey(withParents(own('etcd', 'linux/amd64'), pushed['linux/amd64'])));
  t.is(amd.reason, 'parent base changed');
});

test('a recipe change rebuilds that image alone', (t) => {
  const d = decideAll(plan(UPSTREAM_OLD), facts({ recipe: 'changed' }), { force: false });
  t.deepEqual(actions(d), ['base: reuse (unchanged), reuse (unchanged)', 'etcd: build (recipe changed), build (recipe changed)']);
});

test('--force rebuilds what the last release has', (t) => {
  const d = decideAll(plan(UPSTREAM_OLD), facts(), { force: true });
  t.deepEqual(actions(d), [`base: build (${REASON.forced}), build (${REASON.forced})`, `etcd: build (${REASON.forced}), build (${REASON.forced})`]);
});

test('--force never rebuilds what this release already tagged (an interrupted run of it)', (t) => {
  const d = decideAll(plan(UPSTREAM_OLD), facts({ tagged: true }), { force: true });
  t.deepEqual(actions(d)[0], `base: reuse (${REASON.tagged}), reuse (${REASON.tagged})`);
  t.is((d[0]!.platforms['linux/amd64'] as Extract<Decision, { action: 'reuse' }>).source, 'tagged');
});

test('no previous build, or one whose inputs cannot be read: build, and say so', (t) => {
  t.deepEqual(actions(decideAll(plan(UPSTREAM_OLD), facts({ published: false }), { force: false }))[0],
    'base: build (no published build with these inputs), build (no published build with these inputs)');
  const f = facts();
  for (const p of Object.values(f[0]!.published!.platforms)) { delete p!.inputs; p!.key = digest('0'); }
  t.deepEqual(actions(decideAll(plan(UPSTREAM_OLD), f, { force: false }))[0],
    'base: build (no published build with these inputs), build (no published build with these inputs)');
});

test('what an interrupted run recorded is reused, reported as it recorded it', (t) => {
  const f = facts();
  const inputs = withParents(own('base', 'linux/amd64'), UPSTREAM_NEW['linux/amd64']);
  f[0]!.done = { platforms: { 'linux/amd64': { key: buildKey(inputs), inputs, manifest: { mediaType: 'm', digest: digest('7'), size: 1 }, built: true, reason: 'upstream base image updated' } } };
  const d = decideAll(plan(UPSTREAM_NEW), f, { force: false });
  const amd = d[0]!.platforms['linux/amd64'] as Extract<Decision, { action: 'reuse' }>;
  t.like(amd, { action: 'reuse', source: 'run', built: true, reason: 'upstream base image updated' });
  t.is(amd.manifest.digest, digest('7'));
  t.is(d[0]!.platforms['linux/arm64']!.action, 'build', 'the platform it had not pushed is built');
});

test('a reusable manifest the registry no longer serves is built again, saying why', (t) => {
  const f = facts();
  const d = decideImage(f[0]!, { from: { name: 'upstream', platforms: PLATFORMS, digests: UPSTREAM_OLD } }, { force: false }, new Set([BASE_MANIFESTS['linux/amd64']]));
  t.is(d.platforms['linux/amd64']!.action, 'build');
  t.is(d.platforms['linux/amd64']!.reason, `${BASE_MANIFESTS['linux/amd64']} is no longer in the registry`);
  t.is(d.platforms['linux/arm64']!.action, 'reuse');
});

test('a parent without the platform is refused, naming both', (t) => {
  const e = t.throws(() => decideAll(plan({ 'linux/amd64': digest('a') }), facts(), { force: false }));
  t.regex(e!.message, /base needs upstream for linux\/arm64, which has none/);
});

/** The facts with etcd's recipe accepted by the assembler (or refused with `refusal`) on every platform, at SOURCE_DATE_EPOCH `epoch`. */
function qualifiedFacts(refusal?: string, epoch = 1_704_067_200): ImageFacts[] {
  const f = facts();
  const assembler: Answer = refusal ? { builder: 'assemble', accepts: false, why: refusal }
    : { builder: 'assemble', accepts: true, why: 'COPY-only recipe', key: { via: 'assemble', epoch, assembler: ASSEMBLER_FORMAT } };
  f[1]!.answers = Object.fromEntries(PLATFORMS.map((p) => [p, [assembler, BUILDKIT]]));
  return f;
}

/** etcd decided alone, its parent reused with the published digests. */
const etcdDecided = (f: ImageFacts[], o: DecideOptions) => decideImage(f[1]!, { from: { name: 'base', platforms: PLATFORMS, digests: BASE_MANIFESTS } }, o);

const paths = (d: ReturnType<typeof decideAll>) => d.map((i) => `${i.plan.name}: ${PLATFORMS.map((p) => {
  const x = i.platforms[p]!;
  return x.action === 'build' ? `${x.via} (${x.viaReason})` : 'reuse';
}).join(', ')}`);

test('a qualifying recipe is assembled; its build key covers the path, so a BuildKit build of it is not reused', (t) => {
  const d = decideAll(plan(UPSTREAM_OLD), qualifiedFacts(), { force: false });
  t.deepEqual(paths(d), ['base: reuse, reuse', 'etcd: assemble (COPY-only recipe), assemble (COPY-only recipe)']);
  const amd = d[1]!.platforms['linux/amd64'] as Extract<Decision, { action: 'build' }>;
  t.is(amd.reason, 'build path changed to the assembler');
  t.like(amd.inputs, { via: 'assemble', epoch: 1_704_067_200 });
  t.not(amd.key, buildKey(withParents(own('etcd', 'linux/amd64'), BASE_MANIFESTS['linux/amd64'])));
});

test('a recipe that does not qualify goes to BuildKit with the reason, its key as before', (t) => {
  const d = decideAll(plan(UPSTREAM_OLD), qualifiedFacts('RUN at Dockerfile:4'), { force: false });
  t.deepEqual(actions(d), ['base: reuse (unchanged), reuse (unchanged)', 'etcd: reuse (unchanged), reuse (unchanged)'], 'the BuildKit key is unchanged: nothing is rebuilt');
  const forced = etcdDecided(qualifiedFacts('RUN at Dockerfile:4'), { force: true });
  t.deepEqual(paths([forced])[0], 'etcd: buildkit (RUN at Dockerfile:4), buildkit (RUN at Dockerfile:4)');
});

test('with the assembler off every build goes to BuildKit, and an assembled image is rebuilt through it', (t) => {
  const assembled = etcdDecided(qualifiedFacts(), { force: true });
  const f = qualifiedFacts();
  f[1]!.published = { indexDigest: digest('9'), platforms: Object.fromEntries(PLATFORMS.map((p) => {
    const x = assembled.platforms[p] as Extract<Decision, { action: 'build' }>;
    return [p, { key: x.key!, inputs: x.inputs!, manifest: { mediaType: 'm', digest: ETCD_MANIFESTS[p as keyof typeof ETCD_MANIFESTS], size: 1 } }];
  })) };
  t.deepEqual(paths(decideAll(plan(UPSTREAM_OLD), f, { force: false }))[1], 'etcd: reuse, reuse', 'the assembled image is reused while the path stays');
  const off = decideAll(plan(UPSTREAM_OLD), f, { force: false, off: { assemble: REASON.assemblerOff } });
  t.deepEqual(paths(off)[1], `etcd: buildkit (${REASON.assemblerOff}), buildkit (${REASON.assemblerOff})`);
  t.is(off[1]!.platforms['linux/arm64']!.reason, 'build path changed to BuildKit');
});

test('a changed SOURCE_DATE_EPOCH rebuilds an assembled image', (t) => {
  const first = etcdDecided(qualifiedFacts(), { force: true }).platforms['linux/amd64']!;
  const f = qualifiedFacts(undefined, 1_800_000_000);
  const second = etcdDecided(f, { force: true }).platforms['linux/amd64']!;
  t.truthy(first.key);
  t.not(second.key, first.key);
});
