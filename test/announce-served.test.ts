/**
 * `eksd announce` announces only a release the site serves: the very manifest the site store holds (and
 * the public site, when configured), under the name the site gives it, once the channel file points at
 * it. An edited or renamed copy, or a release whose run has not moved the pointers, is refused and
 * nothing reaches SNS.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { snsProject } from './helpers/sns-project.ts';
import { startLoopback } from './helpers/loopback-server.ts';

const RELEASE = 'kubernetes-1-33-eks-1';
const MISSING = 'arn:aws:sns:us-east-1:000000000000:no-such-topic';

test('announce refuses what the site does not serve or point at, and sends the served release once', async (t) => {
  const { sns, p, env } = await snsProject(t);
  const site = join(p.root, 'out', 'site');
  const manifest = join(site, 'kubernetes-1-33', `${RELEASE}.yaml`);
  const announce = (ref: string, extra: Record<string, string> = {}) => p.eksd(['announce', ref], { env: { ...env, ...extra } });

  // The run stopped after verify: the manifest is on the site, the channel file does not point at it.
  const partial = await p.eksd(['release', '--until', 'verify'], { env });
  t.is(partial.code, 0, partial.stderr);
  for (const ref of [RELEASE, manifest]) {
    const early = await announce(ref);
    t.is(early.code, 3, early.stderr);
    t.regex(early.stderr, /RELEASE_NOT_SERVED: kubernetes-1-33-eks-1 is not released yet: .*releasechannels\/1-33\.yaml does not exist; nothing was announced/);
    t.regex(early.stderr, /eksd release --channel 1-33/);
  }
  t.is(sns.received, 0, 'nothing reached SNS');

  // The pointers move; the announcement is refused by SNS (no such topic), so the release is not announced yet.
  const refused = await p.eksd(['release'], { env: { ...env, EKSD_SNS_TOPIC_ARN: MISSING } });
  t.is(refused.code, 1, refused.stderr);
  t.regex(refused.stderr, /ANNOUNCE_FAILED/);
  const received = sns.received;

  const original = readFileSync(manifest, 'utf8');
  const edited = join(p.root, 'edited.yaml');
  writeFileSync(edited, original.replace(/description: (.*)/, 'description: $1 (edited)'));
  const copy = await announce(edited);
  t.is(copy.code, 3, copy.stderr);
  t.regex(copy.stderr, /RELEASE_NOT_SERVED: .*edited\.yaml is not what the site store's .*kubernetes-1-33-eks-1\.yaml serves \(line \d+: the site has .*, the manifest given has .*\(edited\)/);
  t.regex(copy.stderr, /eksd announce kubernetes-1-33-eks-1/);

  const renamed = join(p.root, 'renamed.yaml');
  writeFileSync(renamed, original.replaceAll(RELEASE, 'kubernetes-1-33-eks-7').replace(/number: 1$/m, 'number: 7'));
  const other = await announce(renamed);
  t.is(other.code, 3, other.stderr);
  t.regex(other.stderr, /RELEASE_NOT_SERVED: .*renamed\.yaml is not published: .*kubernetes-1-33\/kubernetes-1-33-eks-7\.yaml does not exist/);

  // A public site that serves another manifest than the store holds.
  const stale = await startLoopback(async (req, res) => {
    const file = join(site, decodeURIComponent(req.url ?? '/'));
    res.end(file === manifest ? `${original}# stale\n` : readFileSync(file));
  });
  t.teardown(() => stale.stop());
  const lagging = await announce(RELEASE, { EKSD_SITE_VERIFY_URL: stale.endpoint });
  t.is(lagging.code, 3, lagging.stderr);
  t.regex(lagging.stderr, /is not what the public site's http:\/\/127\.0\.0\.1:\d+\/kubernetes-1-33\/kubernetes-1-33-eks-1\.yaml serves/);
  t.regex(lagging.stderr, /the public site does not serve what the site store holds yet/);
  t.is(sns.received, received, 'nothing reached SNS');
  t.is(sns.publishes.length, 0);

  // A byte-for-byte copy of the served manifest is the release: announced once, under the site's name.
  const same = join(p.root, 'same.yaml');
  writeFileSync(same, original);
  const sent = await announce(same);
  t.is(sent.code, 0, sent.stderr);
  t.regex(sent.stdout, /announced kubernetes-1-33-eks-1 via sns/);
  t.is(sns.publishes.length, 1);
  t.deepEqual(sns.publishes[0]!.MessageAttributes.release, { DataType: 'String', StringValue: RELEASE });
  const again = await announce(RELEASE);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /already announced/);
  t.is(sns.publishes.length, 1, 'sent once');
});
