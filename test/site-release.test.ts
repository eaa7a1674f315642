/**
 * The release site as release runs write it, on the real engine and registry (mini catalog, channels
 * 1-32 and 1-33): a run stopped after the release stage leaves its page and no index page or feed
 * naming it; the next full run names it; the release page lists every image of the manifest with the
 * index and per-platform digests the registry holds, every archive with its checksums and a link that
 * exists; a crafted catalog value is escaped; a retired channel shows as retired; `eksd site` then
 * rewrites nothing, twice.
 */
import test from 'ava';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { registryClients } from '../pipeline/app/clients.ts';
import { fromRegistry } from '../pipeline/site/pages/platforms.ts';
import { makeProject, type TestProject } from './helpers/project.ts';

const CRAFTED = '<script>alert(1)</script>';
let p: TestProject;
const site = (key: string) => join(p.config().site.dir, key);
const read = (key: string) => readFileSync(site(key), 'utf8');
const INDEXES = ['index.html', 'kubernetes-1-33/index.html', 'feed.xml', 'kubernetes-1-33/feed.xml', 'releases.json'];

test.before(async () => {
  p = await makeProject({ catalog: 'mini', channels: ['1-32', '1-33'] });
  const file = join(p.root, 'images', 'kubernetes', 'component.yaml');
  const k8s = parse(readFileSync(file, 'utf8')) as { versions: Array<{ channels: string[]; artifacts: Array<{ description: string }> }> };
  k8s.versions.find((v) => v.channels.includes('1-33'))!.artifacts[0]!.description = CRAFTED;
  writeFileSync(file, stringify(k8s));
  await p.seed();
});
test.after.always(async () => { await p?.cleanup(); });

test.serial('a run stopped after the release stage: its page, and no index page or feed naming it; the next run names it', async (t) => {
  const stopped = await p.eksd(['release', '--until', 'release', '--concurrency', '2']);
  t.is(stopped.code, 0, stopped.stderr.slice(-3000));
  t.true(existsSync(site('kubernetes-1-33/releases/1/index.html')), 'the release page is written with the release');
  for (const key of INDEXES) t.false(existsSync(site(key)), `${key} before the release is verified`);
  const full = await p.eksd(['release', '--concurrency', '2']);
  t.is(full.code, 0, full.stderr.slice(-3000));
  for (const key of INDEXES) t.true(read(key).includes('kubernetes-1-33-eks-1'), `${key} names the verified release`);

  const again = await p.eksd(['release', '--until', 'release', '--release-unchanged', '--channel', '1-33']);
  t.is(again.code, 0, again.stderr.slice(-3000));
  t.true(existsSync(site('kubernetes-1-33/releases/2/index.html')));
  for (const key of INDEXES) t.false(read(key).includes('kubernetes-1-33-eks-2'), `${key} names the unverified release 2`);
  const done = await p.eksd(['release', '--channel', '1-33']);
  t.is(done.code, 0, done.stderr.slice(-3000));
  for (const key of INDEXES) t.true(read(key).includes('kubernetes-1-33-eks-2'), `${key} names release 2 once it is verified`);
});

test.serial('the release page: every image with its index and per-platform digests, every archive with its checksums and link; escaped', async (t) => {
  const page = read('kubernetes-1-33/releases/1/index.html');
  const manifest = parse(read('kubernetes-1-33/kubernetes-1-33-eks-1.yaml')) as { status: { components: Array<{ assets: Array<{ type: string; image?: { uri: string; imageDigest: string }; archive?: { uri: string; sha256: string; sha512: string } }> }> } };
  const assets = manifest.status.components.flatMap((c) => c.assets);
  const platforms = fromRegistry(registryClients(p.config()));
  for (const a of assets.filter((x) => x.image)) {
    t.true(page.includes(a.image!.uri), a.image!.uri);
    t.true(page.includes(a.image!.imageDigest), `index digest of ${a.image!.uri}`);
    const listed = await platforms(a.image!.uri, a.image!.imageDigest);
    t.is(listed.length, 2);
    for (const d of listed) t.true(page.includes(`<dt>${d.platform}</dt><dd><code class="copy digest">${d.digest}</code>`), `${d.platform} of ${a.image!.uri}`);
  }
  for (const a of assets.filter((x) => x.archive)) {
    t.true(page.includes(a.archive!.sha256) && page.includes(a.archive!.sha512), `checksums of ${a.archive!.uri}`);
  }
  t.true(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  t.false(page.includes(CRAFTED));
  t.true(page.includes('kubectl apply -f https://distro.eks.amazonaws.com/kubernetes-1-33/kubernetes-1-33-eks-1.yaml'));
  t.true(read('kubernetes-1-33/index.html').includes('href="releases/1/index.html"'), 'the channel page lists the release');
});

test.serial('every link of every page names a file of the site', async (t) => {
  const root = p.config().site.dir;
  const pages = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.html'));
  t.true(pages.length >= 6);
  for (const page of pages) {
    for (const [, href] of read(page).matchAll(/(?:href|src)="([^"]+)"/g)) {
      t.true(existsSync(resolve(dirname(join(root, page)), href!)), `${page} -> ${href}`);
    }
  }
});

test.serial('a retired channel is retired on the pages and in the feeds; eksd site then rewrites nothing, twice', async (t) => {
  const channelsFile = join(p.root, 'images', 'channels.yaml');
  const doc = parse(readFileSync(channelsFile, 'utf8')) as { channels: Array<{ name: string; active: boolean; retired?: string }> };
  Object.assign(doc.channels.find((c) => c.name === '1-32')!, { active: false, retired: '2026-12-01' });
  writeFileSync(channelsFile, stringify(doc));
  const r = await p.eksd(['release']);
  t.is(r.code, 0, r.stderr.slice(-3000));
  t.regex(read('index.html'), /retired on <time datetime="2026-12-01">2026-12-01<\/time>/);
  t.regex(read('kubernetes-1-32/index.html'), /class="status retired">retired on/);
  t.true(read('kubernetes-1-32/feed.xml').includes('<title>EKS Distro 1.32 retired</title>'));
  const before = new Map(INDEXES.map((k) => [k, read(k)]));
  for (const round of [1, 2]) {
    const s = await p.eksd(['site', '--json']);
    t.is(s.code, 0, s.stderr.slice(-3000));
    const pages = JSON.parse(s.stdout) as { written: string[]; unchanged: string[] };
    t.deepEqual(pages.written, [], `eksd site (${round}) rewrites nothing the runs wrote`);
    t.true(pages.unchanged.includes('kubernetes-1-33/releases/2/index.html'));
  }
  for (const [k, text] of before) t.is(read(k), text, `${k}: the same bytes`);
});
