/**
 * A release run's picture and its terminal: the step summary holds a Mermaid gantt chart with every
 * stage, the site holds the release's timeline.svg (well-formed, every platform build named), a plain
 * log ends with the text bars; on a terminal (a pseudo-terminal in tmux, recorded by script(1)) a release
 * shows its running builds redrawn in place, the end table, and no engine step lines.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { XMLValidator } from 'fast-xml-parser';
import { EKSD_BIN, makeProject, type TestProject } from './helpers/project.ts';
import { tail } from './helpers/crash.ts';

const STAGES = ['catalog', 'resolve', 'plan', 'decide', 'repositories', 'build', 'compare', 'tags', 'attest', 'release', 'verify', 'pointers', 'announce', 'pin'];
/** An engine step line of the plain format: `done  <image> <platform>: <step>`. */
const STEP_LINE = /(done|cached) +[a-z0-9-]+ linux\/(amd64|arm64): /;

test('a release writes a Mermaid gantt of every stage to the step summary, its timeline.svg to the site, text bars to the log; on a terminal it shows running builds, not steps', async (t) => {
  const p = await makeProject({ catalog: 'mini' });
  t.teardown(() => p.cleanup());
  await p.seed();
  const summary = join(mkdtempSync(join(tmpdir(), 'eksd-summary-')), 'summary.md');
  const r = await p.eksd(['release'], { env: { GITHUB_STEP_SUMMARY: summary } });
  t.is(r.code, 0, tail(r.stderr));

  const markdown = readFileSync(summary, 'utf8');
  const gantt = /```mermaid\n(gantt\n[\s\S]*?)```/.exec(markdown)?.[1] ?? '';
  t.regex(gantt, /^gantt\n/);
  for (const stage of STAGES) t.regex(gantt, new RegExp(`^ {4}${stage} :`, 'm'), stage);
  t.regex(markdown, /```text\nrun timeline: /);

  const svgFile = join(p.root, 'out', 'site', 'kubernetes-1-33', 'releases', '1', 'timeline.svg');
  t.true(existsSync(svgFile));
  const svg = readFileSync(svgFile, 'utf8');
  t.is(XMLValidator.validate(svg), true);
  const builds = [...r.stderr.matchAll(/^\[ *[\d.]+s\] pushed +(\S+) (linux\/\w+)/gm)].map((m) => `${m[1]} ${m[2]}`);
  t.true(builds.length > 0);
  for (const b of builds) t.true(svg.includes(`>${b}</text>`), b);
  t.regex(r.stdout, /timeline +.*kubernetes-1-33\/releases\/1\/timeline\.svg/);

  const bars = r.stderr.slice(r.stderr.lastIndexOf('run timeline: '));
  t.regex(bars, /critical path through the builds/);
  t.true(bars.trimEnd().split('\n').every((l) => l.length <= 100));

  const screen = await onTerminal(p, ['release', '--force', '--concurrency', '2']);
  t.regex(screen.raw, / {2}=> [a-z0-9-]+ linux\/(amd64|arm64) +(assemble|buildkit)/, 'running builds are shown');
  t.regex(screen.raw, /\r\x1b\[\d+A\[ *[\d.]+s\] 1-33 · build [\d.]+s · \d+ built, \d+ reused, [1-9] running\x1b\[K\r?\n/, 'redrawn in place');
  t.notRegex(screen.raw, STEP_LINE, 'no engine step lines');
  t.regex(screen.final, /✔ 1-33 released kubernetes-1-33-eks-2/);
  t.regex(screen.final, /IMAGE +PLATFORMS +INDEX DIGEST/, 'the end table');
  t.regex(screen.final, /timeline +.*releases\/2\/timeline\.svg/, 'where to look');
  t.notRegex(screen.final, STEP_LINE);
  t.true(screen.final.trimEnd().split('\n').length < 40, `fits one screen:\n${screen.final}`);
});

/** Runs eksd in a 120x40 tmux pane, recorded by script(1): every byte written, and the screen at the end. */
async function onTerminal(p: TestProject, args: string[]): Promise<{ raw: string; final: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'eksd-tty-'));
  const socket = `eksd-test-${randomBytes(4).toString('hex')}`;
  const tmux = (...a: string[]) => execFileSync('tmux', ['-L', socket, ...a], { encoding: 'utf8' });
  const eksd = [process.execPath, EKSD_BIN, ...args].map(quote).join(' ');
  const command = `cd ${quote(p.root)} && env -u CI EKSD_PROFILE=local EKSD_CONFIG=${quote(p.configFile)} script -q -e -c ${quote(eksd)} ${quote(join(dir, 'raw'))}; echo $? > ${quote(join(dir, 'code'))}; sleep 600`;
  tmux('new-session', '-d', '-x', '120', '-y', '40', command);
  try {
    for (const deadline = Date.now() + 540_000; !existsSync(join(dir, 'code')) && Date.now() < deadline;) await sleep(250);
    await sleep(250);
    const final = tmux('capture-pane', '-p', '-S', '-', '-E', '-');
    const code = readFileSync(join(dir, 'code'), 'utf8').trim();
    if (code !== '0') throw new Error(`eksd ${args.join(' ')} exited ${code} on the terminal:\n${final}`);
    return { raw: readFileSync(join(dir, 'raw'), 'utf8'), final };
  } finally {
    tmux('kill-server');
  }
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
