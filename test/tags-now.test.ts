/** Where tags point, read before they move: the tags stage reads versioned tags, the pointers stage floating ones. */
import test from 'ava';
import { RegistryClient } from '../pipeline/registry/client.ts';
import { moveTags, tagsNow, type TagTarget } from '../pipeline/publish/tags.ts';
import { startRecorder } from './helpers/recorder.ts';
import { buildIndex, pushTestImage, startRegistry } from './helpers/registry.ts';

test('tagsNow reads the tags asked for, one HEAD each; moveTags then moves only those that differ', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const recorder = await startRecorder(reg.host);
  t.teardown(() => recorder.stop());
  const client = new RegistryClient({ registry: recorder.host });
  const repo = 'tags/now';
  const [old, index] = [buildIndex({ seed: 'old', layerSizes: [16] }), buildIndex({ seed: 'new', layerSizes: [16] })];
  await pushTestImage(client, repo, old, 'v1-latest');
  await pushTestImage(client, repo, index);
  const target: TagTarget = { client, repository: repo, index: { digest: index.digest, bytes: index.bytes }, tags: { versioned: 'v1-eks-1-33-2', floating: ['v1-latest', 'latest'] } };
  const heads = async (which: 'versioned' | 'floating' | 'all') => {
    recorder.lines.length = 0;
    const [now] = await tagsNow([target], which);
    return { now: now!, sent: recorder.lines.map((l) => l.replace(`/v2/${repo}/manifests/`, '')).sort() };
  };
  t.deepEqual(await heads('versioned'), { now: { 'v1-eks-1-33-2': undefined }, sent: ['HEAD v1-eks-1-33-2'] });
  const floating = await heads('floating');
  t.deepEqual(floating, { now: { 'v1-latest': old.digest, latest: undefined }, sent: ['HEAD latest', 'HEAD v1-latest'] });
  t.is((await heads('all')).sent.length, 3);
  t.deepEqual(await moveTags(target, floating.now, 'floating'), [{ tag: 'v1-latest', action: 'moved' }, { tag: 'latest', action: 'created' }]);
  const after = await heads('floating');
  t.deepEqual(await moveTags(target, after.now, 'floating'), [{ tag: 'v1-latest', action: 'unchanged' }, { tag: 'latest', action: 'unchanged' }]);
});
