/**
 * A release split across machines and merged by digest. A second dockerd (its own socket and data root)
 * stands in for the arm64 machine; the amd64 job, the arm64 job and the merge are each their own eksd
 * process, sharing the registry and the state store. The merge refuses while a job is missing, then
 * releases once; its images and manifest are those of a one-machine run of the same inputs. A job killed
 * mid-build reuses what it recorded; jobs of another catalog are refused by plan id.
 */
import test from 'ava';
import { readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { at, imagesIn, manifestImages, manifestText, normalizeManifest, outboxFiles, runWithEvents, tail } from './helpers/crash.ts';
import { RegistryClient } from '../pipeline/registry/index.ts';
import { startSecondEngine } from './helpers/second-engine.ts';
import { makeProject, type TestProject } from './helpers/project.ts';
import { referrers, referrersTag } from '../pipeline/registry/referrers.ts';
import { PREDICATE } from '../pipeline/attest/statement.ts';


async function planId(p: TestProject): Promise<string> {
  const r = await p.eksd(['plan-id']);
  if (r.code !== 0) throw new Error(`eksd plan-id failed: ${r.stderr}`);
  return r.stdout.trim();
}

interface SplitJson { planId: string; platform: string; channels: Array<{ channel: string; built: number; reused: number }> }

async function job(p: TestProject, platform: string, env: Record<string, string> = {}): Promise<SplitJson> {
  const r = await p.eksd(['build', '--platform', platform, '--json', '--concurrency', '2'], { env });
  if (r.code !== 0) throw new Error(`eksd build --platform ${platform} failed (${r.code}): ${tail(r.stderr)}`);
  return JSON.parse(r.stdout) as SplitJson;
}

interface MergedJson { verify: unknown; images: Array<{ name: string; uri: string; digest: string; platforms: Record<string, { digest: string; built: boolean }> }> }

/** A project with `other`'s namespace, pin and artifacts, and its own site and state. */
function sameInputsAs(p: TestProject, other: TestProject): void {
  const config = parse(readFileSync(p.configFile, 'utf8')) as Record<string, unknown>;
  const from = parse(readFileSync(other.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(p.configFile, stringify({ ...config, imageRepo: from.imageRepo, baseImageRepo: from.baseImageRepo, basePin: from.basePin, artifacts: from.artifacts }));
}

/**
 * Another machine's checkout of the same commit: its own working directory and artifact cache, sharing
 * only the registry namespace, the site and state stores and the outbox with `p`.
 */
async function machine(p: TestProject): Promise<TestProject> {
  const m = await makeProject({ catalog: 'mini' });
  const config = parse(readFileSync(m.configFile, 'utf8')) as Record<string, unknown> & { artifacts: Record<string, unknown> };
  const from = parse(readFileSync(p.configFile, 'utf8')) as Record<string, unknown> & { artifacts: Record<string, unknown> };
  writeFileSync(m.configFile, stringify({ ...from, artifacts: { ...from.artifacts, cacheDir: config.artifacts.cacheDir } }));
  return m;
}

/** Deletes every component image (index and platform manifests; their tags go with them), keeping the bases. */
async function deleteComponents(images: MergedJson['images']): Promise<void> {
  for (const i of images.filter((x) => !x.uri.includes('/eks-distro-build-tooling/'))) {
    const [host, ...path] = i.uri.replace(/:[^:/]+$/, '').split('/');
    const client = new RegistryClient({ registry: host! });
    for (const digest of [i.digest, ...Object.values(i.platforms).map((pl) => pl.digest)]) {
      await client.deleteManifest(path.join('/'), digest);
      // Its attestations too (the tag-schema index), so the one-machine run attests the images anew.
      const attached = await client.headManifest(path.join('/'), referrersTag(digest));
      if (attached) await client.deleteManifest(path.join('/'), attached.digest);
    }
  }
}

/** Each component platform image's provenance, by digest, as the DSSE payload says it (the signature is verify's business). */
async function provenanceOf(images: MergedJson['images']): Promise<Record<string, { subject: unknown; buildDefinition: unknown }>> {
  const out: Record<string, { subject: unknown; buildDefinition: unknown }> = {};
  for (const i of images.filter((x) => !x.uri.includes('/eks-distro-build-tooling/'))) {
    const [host, ...path] = i.uri.replace(/:[^:/]+$/, '').split('/');
    const client = new RegistryClient({ registry: host! });
    for (const pl of Object.values(i.platforms)) {
      const entry = (await referrers(client, path.join('/'), pl.digest)).find((d) => d.annotations?.['dev.sigstore.bundle.predicateType'] === PREDICATE.provenance)!;
      const layer = ((await client.getManifest(path.join('/'), entry.digest)).json as { layers: Array<{ digest: string }> }).layers[0]!;
      const bundle = JSON.parse((await client.getBlob(path.join('/'), layer.digest)).toString()) as { dsseEnvelope: { payload: string } };
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()) as { subject: unknown; predicate: { buildDefinition: unknown } };
      out[pl.digest] = { subject: statement.subject, buildDefinition: statement.predicate.buildDefinition };
    }
  }
  return out;
}

test.serial('two machines in one: jobs per platform, a merge refused while arm64 is missing, then released once; same digests and manifest as one machine', async (t) => {
  const layout = await startSecondEngine(t, 'split');
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  const id = await planId(p);
  t.regex(id, /^plan-[0-9a-f]{16}$/);

  const amd64 = await job(p, 'linux/amd64');
  t.is(amd64.planId, id, 'every job computes the same plan id');
  t.true(amd64.channels[0]!.built > 0);

  const early = await p.eksd(['release', '--merge', id]);
  t.not(early.code, 0);
  t.regex(early.stderr, /no linux\/arm64 units/);
  t.regex(early.stderr, /eks-distro-base/);
  t.regex(early.stderr, /before writing any index/);
  t.deepEqual(outboxFiles(p), []);

  // The arm64 job and the merge run from their own checkouts, as on other machines.
  const arm = await machine(p);
  const merger = await machine(p);
  t.teardown(async () => { await arm.cleanup(); await merger.cleanup(); });
  const arm64 = await job(arm, 'linux/arm64', { EKSD_ENGINE_ARM64: `unix://${layout.dockerSocket}` });
  t.is(arm64.planId, id, 'another checkout of the same commit computes the same plan id');
  const merge = await merger.eksd(['release', '--merge', id, '--json']);
  t.is(merge.code, 0, tail(merge.stderr));
  const merged = JSON.parse(merge.stdout) as MergedJson;
  t.truthy(merged.verify);
  t.is(outboxFiles(p).length, 1, 'announced once');
  const again = await merger.eksd(['release', '--merge', id]);
  t.not(again.code, 0, 'a merged plan is not released twice (its numbers are used)');
  t.is(outboxFiles(p).length, 1);

  // One machine, the same inputs: the same namespace and bases; the split's component images deleted, so
  // the one-machine run builds them again.
  const splitProvenance = await provenanceOf(merged.images);
  await deleteComponents(merged.images);
  const one = await makeProject({ catalog: 'mini' });
  t.teardown(() => one.cleanup());
  sameInputsAs(one, p);
  const single = await one.eksd(['release', '--concurrency', '2', '--json']);
  t.is(single.code, 0, tail(single.stderr));
  const rebuilt = (JSON.parse(single.stdout) as MergedJson).images.filter((i) => !i.uri.includes('/eks-distro-build-tooling/'));
  t.true(rebuilt.length >= 2 && rebuilt.every((i) => Object.values(i.platforms).every((pl) => pl.built)), 'the components were built again');
  const digests = (images: MergedJson['images']) => images.filter((i) => !i.uri.includes('/eks-distro-build-tooling/'))
    .map((i) => [i.name, i.digest, ...Object.entries(i.platforms).map(([pl, d]) => `${pl} ${d.digest}`).sort()]);
  t.deepEqual(digests(rebuilt), digests(merged.images), 'the same index and platform digests');
  t.deepEqual(manifestImages(manifestText(one, 1)), manifestImages(manifestText(p, 1)));
  t.is(normalizeManifest(manifestText(one, 1), 1), normalizeManifest(manifestText(p, 1), 1), 'the same manifest apart from status.date');
  t.deepEqual(await provenanceOf(rebuilt), splitProvenance, 'the same provenance outside runDetails');
});

test.serial('jobs of another catalog: the merge refuses, naming both plan ids', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  const amd64 = await job(p, 'linux/amd64');
  const component = join(p.root, 'images', 'etcd', 'component.yaml');
  const text = readFileSync(component, 'utf8');
  appendFileSync(component, '# changed after the amd64 job\n');
  const arm64 = await job(p, 'linux/arm64');
  writeFileSync(component, text);
  t.not(arm64.planId, amd64.planId);
  const merge = await p.eksd(['release', '--merge', amd64.planId]);
  t.not(merge.code, 0);
  t.regex(merge.stderr, /SPLIT_PLAN_MISMATCH|plan/);
  t.true(merge.stderr.includes(amd64.planId) && merge.stderr.includes(arm64.planId), tail(merge.stderr));
  t.deepEqual(outboxFiles(p), []);
});

test.serial('a job killed mid-build and run again reuses what it recorded', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  const killed = await runWithEvents(p, ['build', '--platform', 'linux/amd64', '--concurrency', '1'], { killAt: at.firstPushed });
  t.true(killed.killed, tail(killed.stderr));
  const pushed = imagesIn(killed.events, 'pushed');
  t.true(pushed.length >= 1);
  const rerun = await runWithEvents(p, ['build', '--platform', 'linux/amd64', '--concurrency', '1']);
  t.is(rerun.code, 0, tail(rerun.stderr));
  const reused = imagesIn(rerun.events, 'reused');
  for (const unit of pushed) t.true(reused.includes(unit), `${unit} recorded by the killed job is reused`);
  for (const unit of pushed) t.false(imagesIn(rerun.events, 'building').includes(unit), `${unit} is not built again`);
  t.true(imagesIn(rerun.events, 'pushed').length > 0, 'the rest is built');
});
