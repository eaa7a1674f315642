import { appendStepSummary } from '../../util/github.ts';
import { resolve } from 'node:path';
import { consoleReporter } from '../../report/console.ts';
import { EksdError } from '../../errors.ts';
import { parseLocation, republish, type RepublishResult } from '../../app/republish.ts';
import { markdownTable, textTable } from '../../report/table.ts';
import { CONFIG_OPTIONS, EXIT, type Command } from '../command.ts';
import { configFrom } from '../config-flags.ts';
import { releaseFromArg } from '../release-ref.ts';
import { parseInt } from './release.ts';

export const republishCommand: Command = {
  name: 'republish',
  summary: 'restore a release\'s images (or mirror them) from its manifest, without rebuilding; verify; optionally re-announce',
  usage: 'eksd republish <release name | manifest file | URL> [--to <registry/namespace>] [--from <registry/namespace>] [--announce] [--json]',
  details: [
    'For every Image asset of the manifest, finds the index digest and its child manifests where they still are (the',
    'manifest\'s own repository, the target, --from, the configured imageRepo, mirror copies under <site>/mirrors/),',
    'copies them children first with their exact bytes to the configured imageRepo or --to, and restores the',
    'versioned tag. The floating <gitTag>-eks-<ch>-latest tag is restored only when no newer release of the channel',
    'carries it with another digest. Nothing is rebuilt and no digest changes; a digest found nowhere fails the run',
    'before anything is written. Base images are not in a Release manifest and are not republished.',
    'With --to a mirror (not where the manifest points), a copy of the manifest pointing at the mirror is verified',
    'and written to <site>/mirrors/<registry_namespace>/<release>.yaml (or --output).',
    '--announce (in place only) sends the announcement again, marked as a republish.',
    'Exit codes: 0 republished and verified, 1 failure (e.g. a digest found nowhere), 2 bad input,',
    '3 copied but verification failed, 4 another run holds the channel lock.',
  ].join('\n'),
  options: {
    ...CONFIG_OPTIONS,
    to: { type: 'string', description: 'registry and namespace to republish to (default: imageRepo)', valueName: 'registry/namespace' },
    from: { type: 'string', multiple: true, description: 'another place to look for the digests, e.g. a mirror (repeatable)', valueName: 'registry/namespace' },
    output: { type: 'string', description: 'where to write the mirror manifest (with --to a mirror)', valueName: 'file' },
    announce: { type: 'boolean', description: 'announce the release again, as a republish (verified first)' },
    attempts: { type: 'string', description: 'verify: tries for a tag that does not resolve yet (default 5)', valueName: 'N' },
    json: { type: 'boolean', description: 'print the result as JSON' },
  },
  stoppable: true,
  async run(ctx) {
    const ref = ctx.args[0];
    if (!ref) throw new EksdError('USAGE', 'which release? give a release name, a manifest file or a URL', { hint: 'eksd republish kubernetes-1-33-eks-1 [--to 127.0.0.1:5001/mirror]' });
    if (ctx.args.length > 1) throw new EksdError('USAGE', `one release at a time (got ${ctx.args.join(', ')})`, { hint: 'eksd republish --help' });
    const config = configFrom(ctx);
    const to = typeof ctx.values.to === 'string' ? parseLocation(ctx.values.to, '--to') : undefined;
    const from = (Array.isArray(ctx.values.from) ? ctx.values.from : []).map((f) => parseLocation(f, '--from'));
    const attempts = parseInt(ctx.values.attempts, 'attempts');
    const release = await releaseFromArg(ref, config);
    const reporter = consoleReporter(process.stderr, 'plain');
    const result = await republish({
      config, release, from, announce: ctx.values.announce === true, emit: (e) => reporter.emit(e),
      ...(to ? { to } : {}), ...(typeof ctx.values.output === 'string' ? { output: resolve(ctx.values.output) } : {}),
      ...(attempts ? { verifyAttempts: attempts } : {}), ...(ctx.stop ? { stop: ctx.stop } : {}),
    });
    reporter.close();
    writeStepSummary(result);
    ctx.out(ctx.values.json ? JSON.stringify(result, null, 2) : summary(result));
    return result.verify.problems.length === 0 ? EXIT.ok : EXIT.verifyFailed;
  },
};

const HEADERS = ['IMAGE', 'DIGEST', 'FROM', 'COPIED', 'TAGS'];

function rows(r: RepublishResult): string[][] {
  return r.images.map((i) => [
    `${i.component}/${i.asset}`, i.digest.slice(0, 19), i.sourceKind,
    `${i.copied.manifestsPushed} manifests, ${i.copied.blobsUploaded + i.copied.blobsMounted} blobs`,
    i.tags.map((t) => `${t.tag} ${t.action}${t.note ? ` (${t.note})` : ''}`).join('; '),
  ]);
}

function footer(r: RepublishResult): string[] {
  const v = r.verify;
  const lines = [`${r.release}: ${r.images.length} images republished to ${r.target}${r.mirror ? ' (mirror)' : ''} in ${(r.ms / 1000).toFixed(1)}s; nothing rebuilt, digests unchanged`];
  if (r.mirrorManifest) lines.push(`mirror manifest ${r.mirrorManifest}`);
  lines.push(v.problems.length === 0
    ? `verify  passed: ${v.images} images, ${v.manifests} manifests, ${v.blobs} blobs, ${v.archives} archives`
    : `verify  FAILED with ${v.problems.length} problem(s):\n${v.problems.map((p) => `  ${p.component}/${p.asset}: ${p.problem}`).join('\n')}${r.mirror ? '\n(the mirror manifest was not written)' : ''}`);
  if (r.announcement) lines.push(`announce sent again via ${r.announcement.via} (message ${r.announcement.messageId}, resend ${r.announcement.resend})`);
  return lines;
}

function summary(r: RepublishResult): string {
  return `${textTable(HEADERS, rows(r))}\n\n${footer(r).join('\n')}`;
}

function writeStepSummary(r: RepublishResult): void {
  appendStepSummary(`## republish ${r.release} to ${r.target}\n\n${markdownTable(HEADERS, rows(r))}\n\n${footer(r).map((l) => `- ${l}`).join('\n')}\n`);
}
