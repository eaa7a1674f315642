/**
 * The run as a picture, from events alone: the timeline value, the Mermaid gantt chart for the step
 * summary (every stage; a huge run within Mermaid's 50,000 characters), the SVG for the release page
 * (well-formed XML naming every platform build) and the text bars for CI logs (a fixed width).
 */
import test from 'ava';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { RunEvent } from '../pipeline/stages/events.ts';
import { timelineOf, channelTimeline, type StampedEvent } from '../pipeline/stages/timeline.ts';
import { criticalPath } from '../pipeline/stages/timeline-critical.ts';
import { ganttChart, MERMAID_MAX_TEXT } from '../pipeline/report/gantt.ts';
import { timelineSvg } from '../pipeline/app/timeline-svg.ts';
import { BARS_WIDTH, timelineBars } from '../pipeline/report/bars.ts';
import { timelineMarkdown } from '../pipeline/report/timeline-summary.ts';

const STAGES = ['catalog', 'resolve', 'plan', 'decide', 'repositories', 'build', 'compare', 'tags', 'attest', 'release', 'verify', 'pointers', 'announce', 'pin'];

/** A run of `channels` channels, each building `images` images on both platforms, two builds at a time. */
function syntheticRun(channels: number, images: number): StampedEvent[] {
  const events: StampedEvent[] = [];
  let now = 1_700_000_000_000;
  const at = (event: RunEvent, ms = 0) => { now += ms; events.push({ at: now, event }); };
  for (let c = 0; c < channels; c++) {
    const channel = `1-${30 + c}`;
    at({ type: 'channel', channel, state: 'started' });
    for (const stage of STAGES) {
      at({ type: 'stage', stage, state: 'started' });
      if (stage === 'build') {
        for (let i = 0; i < images; i++) {
          const image = `image-${String(i).padStart(2, '0')}`;
          at({ type: 'image', image, platform: 'linux/amd64', state: 'building', via: i % 3 ? 'buildkit' : 'assemble' });
          at({ type: 'image', image, platform: 'linux/arm64', state: 'building', via: i % 3 ? 'buildkit' : 'assemble' }, 3);
          at({ type: 'image', image, platform: 'linux/amd64', state: 'built' }, 700 + i * 10);
          at({ type: 'image', image, platform: 'linux/amd64', state: 'pushed', ms: 800 }, 100);
          at({ type: 'image', image, platform: 'linux/arm64', state: 'pushed', ms: 1500 }, 600);
          at({ type: 'image', image, state: 'indexed' }, 5);
        }
        at({ type: 'image', image: 'reused-one', platform: 'linux/amd64', state: 'reused' });
      }
      at({ type: 'stage', stage, state: 'finished', ms: 120 }, stage === 'verify' ? 900 : 120);
    }
    at({ type: 'channel', channel, state: 'finished', outcome: 'released', release: `kubernetes-${channel}-eks-1` });
  }
  return events;
}

test('the timeline: every channel, stage and platform build, with its path and engine', (t) => {
  const tl = timelineOf(syntheticRun(2, 3), '/run/eksd/docker.sock');
  t.deepEqual(tl.channels.map((c) => [c.channel, c.outcome, c.release]), [['1-30', 'released', 'kubernetes-1-30-eks-1'], ['1-31', 'released', 'kubernetes-1-31-eks-1']]);
  t.is(tl.stages.length, 2 * STAGES.length);
  t.true(tl.stages.every((s) => s.state === 'finished' && s.end >= s.start));
  t.is(tl.builds.length, 2 * 3 * 2);
  t.true(tl.builds.every((b) => b.outcome === 'pushed' && b.end > b.start && (b.platform === 'linux/arm64' || b.built !== undefined)));
  t.deepEqual([...new Set(tl.builds.map((b) => `${b.via} ${b.engine}`))].sort(), ['assemble local', 'buildkit /run/eksd/docker.sock']);
  t.deepEqual(tl.reused, { '1-30': 1, '1-31': 1 });
  const second = channelTimeline(tl, '1-31');
  t.is(second.channels[0]!.start, 0);
  t.is(second.builds.length, 6);
  t.true(second.stages[0]!.start >= 0 && second.ms > 0);
});

test('a build the run did not finish, or that its builder refused, says so', (t) => {
  const events: StampedEvent[] = [
    { at: 0, event: { type: 'stage', stage: 'build', state: 'started' } },
    { at: 10, event: { type: 'image', image: 'a', platform: 'linux/amd64', state: 'building', via: 'assemble' } },
    { at: 20, event: { type: 'image', image: 'a', platform: 'linux/amd64', state: 'building', via: 'buildkit' } },
    { at: 90, event: { type: 'info', message: 'stopped' } },
  ];
  const tl = timelineOf(events, 'local');
  t.deepEqual(tl.builds.map((b) => [b.via, b.outcome, b.end]), [['assemble', 'refused', 20], ['buildkit', 'unfinished', 90]]);
  t.deepEqual(tl.stages.map((s) => [s.stage, s.state, s.end]), [['build', 'unfinished', 90]]);
});

test('the critical path walks back from the last build through the builds each waited on', (t) => {
  const b = (image: string, start: number, end: number) => ({ channel: '', image, platform: 'linux/amd64', via: 'buildkit', engine: 'local', start, end, outcome: 'pushed' as const });
  const base = b('base', 0, 100);
  const side = b('side', 0, 40);
  const mid = b('mid', 110, 300);
  const leaf = b('leaf', 310, 900);
  const other = b('other', 120, 500);
  t.deepEqual(criticalPath([side, base, mid, other, leaf]).map((x) => x.image), ['base', 'mid', 'leaf']);
});

test('the Mermaid gantt chart has a gantt header and a bar for every stage and platform build', (t) => {
  const tl = timelineOf(syntheticRun(2, 3), 'local');
  const { text, detail } = ganttChart(tl);
  t.is(detail, 'platforms');
  t.regex(text, /^gantt\n/);
  t.regex(text, /\n {2}dateFormat x\n/);
  for (const channel of ['1-30', '1-31']) {
    const section = text.split(`section ${channel} stages\n`)[1]!.split('section')[0]!;
    for (const stage of STAGES) t.regex(section, new RegExp(`^ {4}${stage} :\\d+, \\d+$`, 'm'), `${channel} ${stage}`);
  }
  t.is(text.match(/^ {4}linux\/(amd64|arm64) /gm)?.length, 12);
  t.regex(text, /linux\/amd64 assemble :crit, done, \d+, \d+|linux\/\w+ \w+ :crit, /);
});

test('a huge run (7 channels x 40 images x 2 platforms) stays within Mermaid\'s text limit, drawn coarser, every stage kept', (t) => {
  const tl = timelineOf(syntheticRun(7, 40), 'local');
  const { text, detail } = ganttChart(tl);
  t.true(text.length <= MERMAID_MAX_TEXT, `${text.length} characters`);
  t.log(`${tl.builds.length} builds: ${text.length} characters, drawn per ${detail}`);
  for (let c = 0; c < 7; c++) t.true(text.includes(`section 1-${30 + c} stages`));
  t.is(text.match(/^ {4}(catalog|pin) :/gm)?.length, 14);
  const small = ganttChart(tl, 8_000);
  t.true(small.text.length <= 8_000 || small.detail === 'stages');
  t.not(small.detail, 'platforms');
  const markdown = timelineMarkdown(tl);
  t.true(Buffer.byteLength(markdown) < 100_000);
  t.regex(markdown, /<details><summary>Timeline: 98 stages, 560 platform builds/, 'a large chart starts collapsed');
  t.regex(timelineMarkdown(tl, 60_000), /```text\n/, 'little room left: the text bars still fit');
  t.is(timelineMarkdown(tl, 10), '', 'no room: nothing');
});

test('the SVG is well-formed XML and names every platform build in text', (t) => {
  const events = syntheticRun(1, 4);
  events.splice(3, 0, { at: events[2]!.at, event: { type: 'info', message: 'x' } });
  const tl = timelineOf(events, 'tcp <&> "engine"');
  const svg = timelineSvg(tl, 'kubernetes-1-30-eks-1 <script>');
  t.is(XMLValidator.validate(svg), true);
  t.false(svg.includes('<script'));
  const doc = new XMLParser({ ignoreAttributes: false }).parse(svg) as { svg: { g: Array<{ text?: unknown }> } };
  const texts = JSON.stringify(doc.svg.g);
  for (const b of tl.builds) t.true(texts.includes(`${b.image} ${b.platform}`), `${b.image} ${b.platform}`);
  for (const s of STAGES) t.true(texts.includes(`stage ${s}`), s);
});

test('the text bars stay within a fixed width and show the critical path and where time went', (t) => {
  for (const [channels, images] of [[1, 4], [7, 40]] as const) {
    const bars = timelineBars(timelineOf(syntheticRun(channels, images), '/run/eksd/docker.sock'));
    const lines = bars.trimEnd().split('\n');
    t.true(lines.every((l) => l.length <= BARS_WIDTH), lines.find((l) => l.length > BARS_WIDTH));
    t.regex(bars, /critical path through the builds: \d+ build\(s\)/);
    t.regex(bars, /builds: \d+ \(\d+ (buildkit|assemble) [\d.]+s, \d+ (buildkit|assemble) [\d.]+s of build time\)/);
    t.regex(bars, /^ {2}build +[\d.]+s \| *#+ *\| *\d+%$/m);
    if (channels === 7) t.true(lines.length < 200, `${lines.length} lines`);
  }
});
