/** Build keys shared by channels released at once: one channel builds a key, the others wait for it. */
import test from 'ava';
import { buildingElsewhere, claimBuild, servedInRun, shareDecisions, sharedFor, sharePlatform } from '../pipeline/stages/images/shared.ts';
import type { SharedBuilds } from '../pipeline/stages/images/types.ts';

const KEY = 'sha256:key';
const manifest = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:m', size: 1 };
const PLACE = '127.0.0.1:5000/eks-distro/kubernetes/pause';

test('a key being built by one channel makes the others wait; its image is then shared', async (t) => {
  const shared: SharedBuilds = new Map();
  t.is(buildingElsewhere(shared, KEY, '1-33'), undefined);
  const end = claimBuild(shared, KEY, '1-33');
  t.is(buildingElsewhere(shared, KEY, '1-33'), undefined, 'a channel does not wait for itself');
  const waiting = buildingElsewhere(shared, KEY, '1-34');
  t.truthy(waiting);
  let waited = false;
  const after = waiting!.then(() => { waited = true; });
  await Promise.resolve();
  t.false(waited);
  sharePlatform(shared, '1-33', { key: KEY, inputs: {} as never, manifest, built: true, reason: 'r' }, PLACE);
  end();
  await after;
  t.true(waited);
  t.is(buildingElsewhere(shared, KEY, '1-34'), undefined, 'the build ended');
  t.deepEqual(sharedFor(shared, KEY, '1-34')?.manifest, manifest);
});

test('a failed build ends its claim: a waiting channel then builds the key itself', async (t) => {
  const shared: SharedBuilds = new Map();
  const end = claimBuild(shared, KEY, '1-33');
  const waiting = buildingElsewhere(shared, KEY, '1-34')!;
  end();
  await waiting;
  t.is(sharedFor(shared, KEY, '1-34')?.manifest, undefined, 'no image to share');
  const mine = claimBuild(shared, KEY, '1-34');
  t.truthy(buildingElsewhere(shared, KEY, '1-33'));
  mine();
});

test('served in the run: only a manifest a channel pushed or found served, not one it only decided to reuse', (t) => {
  const shared: SharedBuilds = new Map();
  const inputs = {} as never;
  shareDecisions(shared, '1-33', [{ plan: {} as never, platforms: { 'linux/amd64': { action: 'reuse', source: 'published', key: KEY, inputs, manifest, built: false, reason: 'r' } } }]);
  t.deepEqual(sharedFor(shared, KEY, '1-34')?.manifest, manifest);
  t.false(servedInRun(shared, KEY, manifest.digest, PLACE), 'decided on, not yet found served');
  sharePlatform(shared, '1-33', { key: KEY, inputs, manifest, built: false, reason: 'r' }, PLACE);
  t.true(servedInRun(shared, KEY, manifest.digest, PLACE));
  t.false(servedInRun(shared, KEY, manifest.digest, '127.0.0.1:5000/another/repository'), 'served in another repository');
  t.false(servedInRun(shared, KEY, 'sha256:other', PLACE));
  t.false(servedInRun(shared, 'sha256:another-key', manifest.digest, PLACE));
  t.false(servedInRun(undefined, KEY, manifest.digest, PLACE));
});

test('turns in order: a part starts once the turns before it are over, whatever order the tasks come in', async (t) => {
  const { turnOrder, inTurn } = await import('../pipeline/util/turn-order.ts');
  const turns = turnOrder(3);
  const order: number[] = [];
  const part = (i: number) => inTurn(turns[i], async () => { order.push(i); });
  await Promise.all([part(2), part(1), part(0)]);
  t.deepEqual(order, [0, 1, 2]);
  const more = turnOrder(2);
  more[0]!.over(); // a task that ended before its part
  await inTurn(more[1], async () => { order.push(9); });
  t.deepEqual(order, [0, 1, 2, 9]);
});
