/**
 * The release site as release runs write it, on the real engine and registry (mini catalog, channels
 * 1-32 and 1-33): a run stopped after the release stage leaves its page and no index page or feed
 * naming it; the next full run names it; the release page lists every image of the manifest with the
 * index and per-platform digests the registry holds, every archive with its checksums and a link that
 * exists; a crafted catalog value is escaped; a retired channel shows as retired; `eksd site` then
 * rewrites nothing, twice; and the pages in Chromium.
 */
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { registryClients } from '../pipeline/app/clients.ts';
import { fromRegistry } from '../pipeline/site/pages/platforms.ts';
import { serveSite } from '../pipeline/site/pages/serve.ts';
import { DirStore } from '../pipeline/store/dir.ts';
import { makeProject, REPO_ROOT, type TestProject } from './helpers/project.ts';

/** Debian's Chromium (`.ci/run` installs it). */
const CHROMIUM = '/usr/bin/chromium';

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
      if (href!.startsWith('data:')) continue; // inline, no file (the page's empty icon)
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

/**
 * The pages in a real browser: Debian's Chromium driven by playwright-core (never a downloaded browser),
 * over `eksd site serve`'s server: no console error, every link inside the site answers 200, the release
 * page shows every image's digest, the retired channel reads as retired, axe-core finds no serious or
 * critical violation, and with JavaScript off the pages say the same. Screenshots at a phone's and a
 * desktop's width go to out/test-artifacts/site/.
 */
test.serial('in Chromium: no console error, no broken link, every digest shown, accessible, the same with JavaScript off', async (t) => {
  const { chromium } = await import('playwright-core');
  const root = p.config().site.dir;
  const served = await serveSite(new DirStore(root), 0);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(async () => { await browser.close(); served.server.close(); });
  const shots = join(REPO_ROOT, 'out', 'test-artifacts', 'site');
  mkdirSync(shots, { recursive: true });
  const pages = { index: 'index.html', channel: 'kubernetes-1-33/index.html', release: 'kubernetes-1-33/releases/1/index.html', retired: 'kubernetes-1-32/index.html' };
  const manifest = parse(read('kubernetes-1-33/kubernetes-1-33-eks-1.yaml')) as { status: { components: Array<{ assets: Array<{ image?: { imageDigest: string } }> }> } };
  const digests = manifest.status.components.flatMap((c) => c.assets).flatMap((a) => (a.image ? [a.image.imageDigest] : []));
  t.true(digests.length >= 2);
  const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

  for (const javaScript of [true, false]) {
    const context = await browser.newContext({ javaScriptEnabled: javaScript, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    for (const [name, key] of Object.entries(pages)) {
      const answer = await page.goto(new URL(key, served.url).href);
      t.is(answer?.status(), 200, key);
      const text = await page.locator('body').innerText();
      if (name === 'release') for (const d of digests) t.true(text.includes(d), `${key} shows ${d} (JavaScript ${javaScript ? 'on' : 'off'})`);
      if (name === 'retired') t.regex(text, /retired on 2026-12-01/i);
      if (!javaScript) continue;
      for (const href of await page.locator('a[href]').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href))) {
        if (!href.startsWith(served.url)) continue;
        t.is((await fetch(href)).status, 200, `${key} -> ${href}`);
      }
      await page.addScriptTag({ content: axeSource });
      const violations = await page.evaluate(async () => (await (window as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string | null }> }> } }).axe.run()).violations);
      t.deepEqual(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id), [], `axe on ${key}`);
      for (const [width, height, label] of [[390, 844, 'phone'], [1280, 800, 'desktop']] as const) {
        await page.setViewportSize({ width, height });
        await page.screenshot({ path: join(shots, `${name}-${label}.png`), fullPage: false });
      }
      await page.setViewportSize({ width: 1280, height: 800 });
    }
    t.deepEqual(errors, [], `console errors (JavaScript ${javaScript ? 'on' : 'off'})`);
    await context.close();
  }
});
