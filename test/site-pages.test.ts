/**
 * The release site from a store of generated manifests and channel files (no engine, no registry):
 * escaping, the feeds as Atom, releases.json against its schema, same bytes when written again, no
 * page naming a release the channel file does not point at yet, the run's picture only when stored,
 * and `eksd site serve`'s paths.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { DirStore } from '../pipeline/store/dir.ts';
import { regenerateSite, rewriteReleasePage, writeIndexPages } from '../pipeline/site/pages/write.ts';
import { keyOf, serveSite } from '../pipeline/site/pages/serve.ts';
import { writeChannel } from '../pipeline/site/site.ts';
import { compileSchema } from '../pipeline/util/schema.ts';
import { REPO_ROOT } from './helpers/project.ts';
import { fakePlatforms, storeReleases } from './helpers/stored-site.ts';

const CRAFTED = '<script>alert(1)</script>';

async function storedSite(releases = 3) {
  const dir = mkdtempSync(join(tmpdir(), 'eksd-site-'));
  const site = new DirStore(dir);
  await storeReleases(site, { channels: ['1-32', '1-33'], releases, retired: { '1-32': '2026-12-01' }, crafted: CRAFTED, snsTopicArn: 'arn:aws:sns:us-east-1:111122223333:eks-distro-updates' });
  return { dir, site, read: (key: string) => readFileSync(join(dir, key), 'utf8') };
}

/** Every file under dir with its bytes, by path. */
function snapshot(dir: string): Map<string, string> {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && /\.(html|xml|json|css)$/.test(e.name));
  return new Map(files.map((e) => { const path = join(e.parentPath, e.name); return [path.slice(dir.length + 1), readFileSync(path, 'utf8')]; }));
}

const atom = new XMLParser({ ignoreAttributes: false, isArray: (name) => name === 'entry' || name === 'link' });
type AtomFeed = { feed: { id: string; title: string; updated: string; entry?: Array<{ id: string; title: string; updated: string; link: Array<{ '@_href': string }> }> } };

test('a value holding HTML is text on every page and in every feed', async (t) => {
  const s = await storedSite();
  await regenerateSite(s.site, fakePlatforms);
  const page = s.read('kubernetes-1-33/releases/2/index.html');
  t.true(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the crafted description and version are on the release page, escaped');
  for (const [path, text] of snapshot(s.dir)) {
    if (path.endsWith('.json')) continue;
    t.false(text.includes(CRAFTED), `${path} holds the crafted value unescaped`);
  }
});

test('the feeds are Atom: well-formed, the required elements, an entry per release and per retirement, the same ids when written again', async (t) => {
  const s = await storedSite();
  await regenerateSite(s.site, fakePlatforms);
  const ids = (key: string) => {
    const text = s.read(key);
    t.is(XMLValidator.validate(text), true, `${key} is well-formed XML`);
    const { feed } = atom.parse(text) as AtomFeed;
    t.truthy(feed.id && feed.title && feed.updated, `${key} has id, title and updated`);
    for (const e of feed.entry ?? []) t.truthy(e.id && e.title && e.updated && e.link[0]?.['@_href'], `${key}: entry ${e.title} has id, title, updated and a link`);
    return (feed.entry ?? []).map((e) => e.id);
  };
  const before = { all: ids('feed.xml'), retired: ids('kubernetes-1-32/feed.xml') };
  t.is(before.all.length, 3 + 3 + 1, 'three releases of each channel and one retirement');
  t.is(new Set(before.all).size, before.all.length, 'ids are unique');
  t.true(s.read('kubernetes-1-32/feed.xml').includes('2026-12-01T00:00:00Z'), 'the retirement entry is dated the day it was retired');
  await s.site.delete('feed.xml');
  await regenerateSite(s.site, fakePlatforms);
  t.deepEqual(ids('feed.xml'), before.all, 'the same ids when the feed is written again');
});

test('releases.json validates against schema/releases.schema.json and lists every published release', async (t) => {
  const s = await storedSite();
  await writeIndexPages(s.site);
  const check = compileSchema(JSON.parse(readFileSync(join(REPO_ROOT, 'schema', 'releases.schema.json'), 'utf8')));
  const doc = JSON.parse(s.read('releases.json')) as { channels: Array<{ channel: string; active: boolean; retired?: string; releases: Array<{ number: number }> }> };
  t.deepEqual(check(doc).map((v) => v.error.message), []);
  t.deepEqual(doc.channels.map((c) => [c.channel, c.active, c.retired, c.releases.map((r) => r.number)]), [['1-33', true, undefined, [3, 2, 1]], ['1-32', false, '2026-12-01', [3, 2, 1]]]);
});

test('written again from the same store: the same bytes, nothing rewritten', async (t) => {
  const s = await storedSite();
  const first = await regenerateSite(s.site, fakePlatforms);
  const bytes = snapshot(s.dir);
  const second = await regenerateSite(s.site, fakePlatforms);
  t.deepEqual(snapshot(s.dir), bytes);
  t.is(second.written.length, 0);
  t.is(second.unchanged.length, first.written.length);
});

test('a manifest the channel file does not point at yet is on no index page and in no feed', async (t) => {
  const s = await storedSite(3);
  await s.site.delete('releasechannels/1-33.yaml');
  await writeChannel(s.site, { channel: '1-33', latestRelease: 2, active: true });
  await writeIndexPages(s.site);
  for (const key of ['index.html', 'kubernetes-1-33/index.html', 'feed.xml', 'kubernetes-1-33/feed.xml', 'releases.json']) {
    t.false(s.read(key).includes('kubernetes-1-33-eks-3'), `${key} names the release not pointed at`);
    t.true(s.read(key).includes('kubernetes-1-33-eks-2'), `${key} names the latest release pointed at`);
  }
});

test('the index pages: every channel, its status and latest release; the channel page newest first; the release page every digest and checksum', async (t) => {
  const s = await storedSite();
  await regenerateSite(s.site, fakePlatforms);
  const home = s.read('index.html');
  t.regex(home, /retired on <time datetime="2026-12-01">/);
  t.true(home.includes('href="kubernetes-1-33/releases/3/index.html"'));
  t.true(home.includes('aws sns subscribe --region us-east-1 --topic-arn arn:aws:sns:us-east-1:111122223333:eks-distro-updates'));
  const channel = s.read('kubernetes-1-33/index.html');
  t.true(channel.indexOf('kubernetes-1-33-eks-3') < channel.indexOf('kubernetes-1-33-eks-2'), 'newest first');
  const page = s.read('kubernetes-1-33/releases/3/index.html');
  const manifest = s.read('kubernetes-1-33/kubernetes-1-33-eks-3.yaml');
  for (const digest of manifest.match(/sha256:[0-9a-f]{64}/g) ?? []) {
    t.true(page.includes(digest), `index digest ${digest}`);
    for (const p of await fakePlatforms('', digest)) t.true(page.includes(p.digest), `${p.platform} digest of ${digest}`);
  }
  for (const sum of manifest.match(/sha(256|512): [0-9a-f]+/g) ?? []) t.true(page.includes(sum.split(' ')[1]!), sum);
  t.true(page.includes('kubectl apply -f https://distro.example.com/kubernetes-1-33/kubernetes-1-33-eks-3.yaml'));
  t.true(page.includes('<a href="../2/index.html">kubernetes-1-33-eks-2</a>'), 'what changed links the previous release');
});

test('the run\'s picture is on the release page only when the site holds it', async (t) => {
  const s = await storedSite(1);
  await rewriteReleasePage(s.site, '1-33', 1, fakePlatforms);
  t.false(s.read('kubernetes-1-33/releases/1/index.html').includes('<figure>'));
  await s.site.put('kubernetes-1-33/releases/1/timeline.svg', '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await rewriteReleasePage(s.site, '1-33', 1, fakePlatforms);
  t.regex(s.read('kubernetes-1-33/releases/1/index.html'), /<figure>\s*<img src="timeline.svg" alt="[^"]+">/);
});

test('eksd site serve: loopback only, index.html for a folder, nothing outside the site', async (t) => {
  t.is(keyOf('/'), 'index.html');
  t.is(keyOf('/kubernetes-1-33/'), 'kubernetes-1-33/index.html');
  t.is(keyOf('/../etc/passwd'), 'etc/passwd', 'the URL parser resolves dot segments within the site');
  t.is(keyOf('/a%2F..%2F..%2Fb'), undefined, 'an encoded separator does not smuggle ".." past it');
  const s = await storedSite(1);
  await writeIndexPages(s.site);
  const served = await serveSite(s.site, 0);
  try {
    t.regex(served.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await fetch(served.url);
    t.is(res.status, 200);
    t.is(res.headers.get('content-type'), 'text/html; charset=utf-8');
    t.is(await res.text(), s.read('index.html'));
    t.is((await fetch(`${served.url}feed.xml`)).headers.get('content-type'), 'application/atom+xml; charset=utf-8');
    t.is((await fetch(`${served.url}missing.html`)).status, 404);
  } finally {
    served.server.close();
  }
});
