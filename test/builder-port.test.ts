/**
 * The Builder port is enough: a release run with a builder that is neither the assembler nor BuildKit
 * (defined here, in the test, and nowhere in pipeline/) publishes every image it makes, by digest, on the
 * real registry; the release verifies, its build keys name the builder, and a second run reuses them.
 * Also: which builder is chosen, and why (builders/select.ts), as pure data.
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import type { Builder, BuildEvent, BuildJob, BuildResult, RecipeView } from '../pipeline/builders/port.ts';
import { selectBuilder, type Answer } from '../pipeline/builders/select.ts';
import { runReleases } from '../pipeline/app/runner.ts';
import { ANNOTATION } from '../pipeline/image/annotations.ts';
import { digestOf } from '../pipeline/image/digest.ts';
import type { Image } from '../pipeline/image/image.ts';
import { MEDIA } from '../pipeline/image/media-types.ts';
import { readPlatformImage } from '../pipeline/registry/image.ts';
import { RegistryClient } from '../pipeline/registry/client.ts';
import type { RunEvent } from '../pipeline/stages/events.ts';
import { makeProject } from './helpers/project.ts';
import { writeFileSync } from 'node:fs';

/** Lays the build context out under /context in one layer on top of the parent; records what it made. */
class ContextLayerBuilder implements Builder {
  readonly name = 'context-layer';
  readonly made = new Map<string, string>();

  accepts(view: RecipeView) {
    return { accepts: true as const, why: `context layer for ${view.image}`, key: { via: this.name } };
  }

  async build(job: BuildJob, report: (e: BuildEvent) => void): Promise<BuildResult> {
    const { from } = job.parents;
    const parent = await readPlatformImage(from.source.client, from.source.repository, from.manifest);
    const tar = await contextTar(job);
    const blob = gzipSync(tar);
    const path = join(job.cacheDir, `${digestOf(blob).slice(7)}.tar.gz`);
    writeFileSync(path, blob);
    const config = JSON.parse(parent.config.toString('utf8')) as { rootfs: { diff_ids: string[] }; history?: unknown[]; created?: string };
    config.rootfs.diff_ids.push(digestOf(tar));
    config.history = [...(config.history ?? []), { created: '2024-01-01T00:00:00Z', created_by: 'context-layer' }];
    config.created = '2024-01-01T00:00:00Z';
    const bytes = Buffer.from(JSON.stringify(config));
    const layer = { mediaType: MEDIA.ociLayerGzip, digest: digestOf(blob), size: blob.length, path };
    const image: Image = { config: bytes, configDigest: digestOf(bytes), layers: [...parent.layers, layer], inherited: parent.layers.length };
    this.made.set(`${job.view.image} ${job.view.platform}`, layer.digest);
    report({ kind: 'built', detail: 'one context layer' });
    return { image };
  }
}

async function contextTar(job: BuildJob): Promise<Buffer> {
  const p = pack();
  const out = buffer(p);
  for (const f of job.context.filter((c) => c.type !== 'dir')) {
    p.entry({ name: `context/${f.name}`, mode: f.mode, mtime: new Date(0) }, await readFile(f.source));
  }
  p.finalize();
  return out;
}

test('a builder that is neither the assembler nor BuildKit publishes a release that verifies, through the port alone', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  const fake = new ContextLayerBuilder();
  const events: RunEvent[] = [];
  const run = () => runReleases({ config: p.config(), emit: (e) => events.push(e), builders: Object.assign(async () => [fake], { close: async () => {} }) });

  const first = await run();
  const outcome = first.channels[0]!;
  t.is(outcome.state, 'released', outcome.state === 'failed' ? String(outcome.error) : '');
  if (outcome.state !== 'released') return;
  t.deepEqual(outcome.result.release?.verify?.problems ?? [], []);
  t.true(fake.made.size > 0);
  const client = new RegistryClient({ registry: '127.0.0.1:5000' });
  for (const image of outcome.result.images) {
    for (const [platform, record] of Object.entries(image.platforms)) {
      const { name, repository } = image.plan;
      const { layers } = await readPlatformImage(client, repository, record!.manifest.digest);
      t.is(layers[layers.length - 1]!.digest, fake.made.get(`${name} ${platform}`) ?? 'not made by the builder', `${name} ${platform}: the registry serves what the builder made`);
      const manifest = (await client.getManifest(repository, record!.manifest.digest)).json as { annotations: Record<string, string> };
      t.like(JSON.parse(manifest.annotations[ANNOTATION.buildInputs] ?? '{}'), { via: 'context-layer' });
    }
  }
  t.true(events.some((e) => e.type === 'image' && e.state === 'built' && e.detail === 'one context layer'));

  const made = fake.made.size;
  fake.made.clear();
  const second = await run();
  t.is(second.channels[0]!.state, 'unchanged');
  t.is(fake.made.size, 0, `nothing rebuilt (the first run made ${made})`);
});

const ASSEMBLER_YES: Answer = { builder: 'assemble', accepts: true, why: 'COPY-only recipe', key: { via: 'assemble', epoch: 1, assembler: 2 } };
const ASSEMBLER_NO: Answer = { builder: 'assemble', accepts: false, why: 'RUN at Dockerfile:4' };
const BUILDKIT: Answer = { builder: 'buildkit', accepts: true, why: 'BuildKit builds any recipe' };

test('the first builder that accepts and is not off is chosen; its reason is why the one before was passed over', (t) => {
  t.deepEqual(selectBuilder([ASSEMBLER_YES, BUILDKIT]), { via: 'assemble', viaReason: 'COPY-only recipe', key: { via: 'assemble', epoch: 1, assembler: 2 } });
  t.deepEqual(selectBuilder([ASSEMBLER_NO, BUILDKIT]), { via: 'buildkit', viaReason: 'RUN at Dockerfile:4', key: {} });
  t.deepEqual(selectBuilder([ASSEMBLER_YES, BUILDKIT], { assemble: 'the assembler is off' }), { via: 'buildkit', viaReason: 'the assembler is off', key: {} });
  t.deepEqual(selectBuilder([BUILDKIT, ASSEMBLER_YES]), { via: 'buildkit', viaReason: 'BuildKit builds any recipe', key: {} }, 'the order is the preference');
  t.throws(() => selectBuilder([ASSEMBLER_NO]), { message: /no builder makes this recipe \(assemble: RUN at Dockerfile:4\)/ });
});
