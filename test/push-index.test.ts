/** An index is PUT once per process, however many channels of the run push it. */
import test from 'ava';
import { RegistryClient } from '../pipeline/registry/client.ts';
import { pushIndex } from '../pipeline/publish/index.ts';
import { startRecorder } from './helpers/recorder.ts';
import { buildIndex, pushTestImage, startRegistry } from './helpers/registry.ts';

test('pushIndex: the same index into the same repository is PUT once; into another repository again', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const recorder = await startRecorder(reg.host);
  t.teardown(() => recorder.stop());
  const client = new RegistryClient({ registry: recorder.host });
  const index = buildIndex({ seed: 'push-once', layerSizes: [16] });
  for (const repo of ['push/a', 'push/b']) await Promise.all(index.images.map((i) => pushTestImage(client, repo, i)));
  recorder.lines.length = 0;
  const pushed = await Promise.all([pushIndex(client, 'push/a', index.bytes), pushIndex(client, 'push/a', index.bytes)]);
  t.deepEqual(pushed.map((d) => d.digest), [index.digest, index.digest]);
  t.is((await pushIndex(client, 'push/a', index.bytes)).digest, index.digest);
  t.is((await pushIndex(client, 'push/b', index.bytes)).digest, index.digest);
  t.deepEqual(recorder.lines, [`PUT /v2/push/a/manifests/${index.digest}`, `PUT /v2/push/b/manifests/${index.digest}`]);
  t.is((await new RegistryClient({ registry: reg.host }).getManifest('push/b', index.digest)).mediaType, index.mediaType);
});
