/** Build keys shared by channels released at once: one channel builds a key, the others wait for it. */
import test from 'ava';
import { buildingElsewhere, claimBuild, sharedFor, sharePlatform } from '../pipeline/stages/images/shared.ts';
import type { SharedBuilds } from '../pipeline/stages/images/types.ts';

const KEY = 'sha256:key';
const manifest = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:m', size: 1 };

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
  sharePlatform(shared, '1-33', { key: KEY, inputs: {} as never, manifest, built: true, reason: 'r' });
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
