/**
 * The qualification rule (pure): each kind of recipe that must go to BuildKit says why and where, the
 * catalog's COPY-only recipes qualify for both platforms, and words are expanded as BuildKit expands them.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { qualify, type Qualification } from '../pipeline/builders/assembler/qualify.ts';
import type { ConfigStep, CopyStep, Recipe } from '../pipeline/builders/assembler/recipe.ts';
import { loadCatalog } from '../pipeline/catalog/load.ts';
import { loadConfig } from '../pipeline/config/config.ts';
import { REPO_ROOT } from './helpers/project.ts';

const HEAD = 'ARG BASE_IMAGE\nFROM $BASE_IMAGE\n';

function q(body: string, o: { platform?: string; buildArgs?: Record<string, string>; parentEnv?: string[]; head?: string } = {}): Qualification {
  return qualify({ dockerfile: (o.head ?? HEAD) + body, file: 'Dockerfile', platform: o.platform ?? 'linux/arm64',
    buildArgs: { BASE_IMAGE: 'registry/parent@sha256:0', ...o.buildArgs }, parent: { Env: o.parentEnv ?? [] } });
}

function recipe(r: Qualification): Recipe {
  if (!r.assemble) throw new Error(`expected to qualify: ${r.reason}`);
  return r.recipe;
}

function reason(r: Qualification): string {
  if (r.assemble) throw new Error('expected to go to BuildKit');
  return r.reason;
}

const copies = (r: Recipe): CopyStep[] => r.steps.filter((s): s is CopyStep => s.op === 'copy');
const changes = (r: Recipe): ConfigStep['change'][] => r.steps.filter((s): s is ConfigStep => s.op === 'config').map((s) => s.change);

const TO_BUILDKIT: Array<[string, string, RegExp]> = [
  ['RUN', 'RUN echo hi\n', /^RUN at Dockerfile:3$/],
  ['ADD', 'ADD https://example.com/x /x\n', /^ADD at Dockerfile:3$/],
  ['ADD of an archive', 'ADD a.tar.gz /\n', /^ADD at Dockerfile:3$/],
  ['SHELL', 'SHELL ["/bin/bash", "-c"]\n', /^SHELL at Dockerfile:3$/],
  ['HEALTHCHECK', 'HEALTHCHECK CMD true\n', /^HEALTHCHECK at Dockerfile:3$/],
  ['ONBUILD', 'ONBUILD RUN true\n', /^ONBUILD at Dockerfile:3$/],
  ['VOLUME', 'VOLUME /data\n', /^VOLUME at Dockerfile:3$/],
  ['MAINTAINER', 'MAINTAINER someone\n', /^MAINTAINER at Dockerfile:3$/],
  ['a wildcard source', 'COPY bin/* /usr/bin/\n', /wildcard at Dockerfile:3$/],
  ['an unknown COPY flag', 'COPY --link a /a\n', /^COPY --link at Dockerfile:3$/],
  ['COPY --chown by name', 'COPY --chown=nobody a /a\n', /--chown=nobody: names need .* at Dockerfile:3$/],
  ['a symbolic --chmod', 'COPY --chmod=u+x a /a\n', /--chmod=u\+x: only octal modes at Dockerfile:3$/],
  ['a heredoc', 'COPY <<EOF /a\nhello\nEOF\n', /heredoc at Dockerfile:3$/],
  ['several sources into a file', 'COPY a b /dest\n', /several sources .* at Dockerfile:3$/],
  ['an EXPOSE range', 'EXPOSE 8000-8010\n', /EXPOSE 8000-8010: only single ports at Dockerfile:3$/],
  ['an unsupported substitution', 'ARG V=x.y\nCOPY a /${V%.*}\n', /unsupported substitution .* at Dockerfile:4$/],
];

for (const [kind, body, expected] of TO_BUILDKIT) {
  test(`to BuildKit: ${kind}`, (t) => {
    t.regex(reason(q(body)), expected);
  });
}

test('to BuildKit: COPY --from a stage with RUN', (t) => {
  const r = q('', { head: 'ARG BASE_IMAGE\nFROM scratch AS b\nRUN make\nFROM $BASE_IMAGE\nCOPY --from=b /x /x\n' });
  t.regex(reason(r), /^COPY --from=b: stage b has RUN at Dockerfile:3, and this COPY is at Dockerfile:5$/);
});

test('to BuildKit: COPY --from a stage FROM an image', (t) => {
  const r = q('', { head: 'ARG BASE_IMAGE\nFROM $BASE_IMAGE AS b\nCOPY a /a\nFROM $BASE_IMAGE\nCOPY --from=b /a /a\n' });
  t.regex(reason(r), /stage b is FROM \$BASE_IMAGE, whose files the assembler does not read at Dockerfile:5$/);
});

test('to BuildKit: COPY --from an external image', (t) => {
  t.regex(reason(q('COPY --from=busybox:1 /bin/busybox /bin/\n')), /COPY --from=busybox:1: an image, not a stage of this Dockerfile at Dockerfile:3$/);
});

test('to BuildKit: a final stage FROM an image named in the file, or FROM --platform', (t) => {
  t.regex(reason(q('COPY a /a\n', { head: 'FROM busybox:1\n' })), /^FROM busybox:1: the final stage must be FROM a parent image build arg/);
  t.regex(reason(q('COPY a /a\n', { head: 'ARG BASE_IMAGE\nFROM --platform=linux/amd64 $BASE_IMAGE\n' })), /^FROM --platform at Dockerfile:2$/);
});

test('to BuildKit: a syntax directive picks another frontend', (t) => {
  t.regex(reason(q('COPY a /a\n', { head: '# syntax=docker/dockerfile:1\nARG BASE_IMAGE\nFROM $BASE_IMAGE\n' })), /parser directive "syntax=docker\/dockerfile:1" at Dockerfile:1$/);
});

test('to BuildKit: a variable that may come from the parent\'s environment, when that is not known', (t) => {
  const r = qualify({ dockerfile: `${HEAD}COPY a $HOME/a\n`, file: 'Dockerfile', platform: 'linux/amd64', buildArgs: { BASE_IMAGE: 'x' } });
  t.regex(reason(r), /^\$HOME, which may come from the parent image's environment at Dockerfile:3$/);
  t.is(copies(recipe(q('COPY a $HOME/a\n', { parentEnv: ['HOME=/root'] })))[0]!.dest, '/root/a');
});

test('every COPY-only recipe of the catalog qualifies, for both platforms; the others say why', (t) => {
  const catalog = loadCatalog(loadConfig({ profile: 'local', root: REPO_ROOT, env: {} }));
  const outcome = (platform: string) => Object.fromEntries(catalog.images.map((spec) => {
    const r = qualify({ dockerfile: readFileSync(spec.dockerfile, 'utf8'), file: relative(REPO_ROOT, spec.dockerfile), platform,
      buildArgs: { BASE_IMAGE: 'parent', BUILDER_IMAGE: 'builder', ...spec.buildArgs }, parent: { Env: ['PATH=/usr/bin'] } });
    return [spec.name, r.assemble ? 'assemble' : r.reason];
  }));
  for (const platform of ['linux/amd64', 'linux/arm64']) {
    const result = outcome(platform);
    for (const spec of catalog.images) {
      const text = readFileSync(spec.dockerfile, 'utf8');
      // COPY-only: no RUN anywhere in the file, no COPY --from.
      const copyOnly = !/^\s*(RUN|ADD)\b/m.test(text) && !/--from/.test(text);
      if (copyOnly) t.is(result[spec.name], 'assemble', `${spec.name} ${platform}`);
      else t.regex(String(result[spec.name]), /^(RUN|COPY --from=\S+: stage \S+ has RUN) at /, `${spec.name} ${platform}`);
    }
    t.true(Object.values(result).filter((v) => v === 'assemble').length >= 16, JSON.stringify(result, null, 1));
  }
});

test('TARGETARCH and build args expand as BuildKit expands them; destinations are absolute under WORKDIR', (t) => {
  const r = recipe(q('ARG TARGETARCH\nARG BINARY\nARG FLAVOUR=plain\nCOPY etcd-$TARGETARCH/etcd ${BINARY}-${FLAVOUR:-x} /usr/local/bin/\nWORKDIR /var/lib\nWORKDIR etcd\nCOPY a rel\nCOPY b .\n',
    { buildArgs: { BINARY: 'kube-proxy' } }));
  const [first, second, third] = copies(r);
  t.deepEqual(first!.sources, ['etcd-arm64/etcd', 'kube-proxy-plain']);
  t.is(first!.dest, '/usr/local/bin/');
  t.is(second!.dest, '/var/lib/etcd/rel');
  t.is(third!.dest, '/var/lib/etcd/');
  t.deepEqual(r.platform, { os: 'linux', architecture: 'arm64' });
});

test('an ARG is empty inside a stage until it is declared there; a global ARG needs re-declaring; build args win over defaults', (t) => {
  const head = 'ARG BASE_IMAGE\nARG V=global\nFROM $BASE_IMAGE\n';
  t.is(copies(recipe(q('COPY a /x$V\n', { head })))[0]!.dest, '/x');
  t.is(copies(recipe(q('ARG V\nCOPY a /x$V\n', { head })))[0]!.dest, '/xglobal');
  t.is(copies(recipe(q('ARG V=local\nCOPY a /x$V\n', { head, buildArgs: { V: 'arg' } })))[0]!.dest, '/xarg');
  t.is(copies(recipe(q('ARG TARGETVARIANT\nARG TARGETPLATFORM\nCOPY a /$TARGETPLATFORM-$TARGETVARIANT\n', { platform: 'linux/arm/v7' })))[0]!.dest, '/linux/arm/v7-v7');
});

test('ENV wins over ARG, and later words see it; quotes and escapes as in the shell', (t) => {
  const r = recipe(q('ARG X=arg\nENV X=env Y="a b" Z=\'$X\'\nCOPY a "/$X-dir"/\\$X/\n'));
  t.deepEqual(changes(r)[1], { env: [['X', 'env'], ['Y', 'a b'], ['Z', '$X']] });
  t.is(copies(r)[0]!.dest, '/env-dir/$X/');
  // A quoted word with a space is split by BuildKit before it is expanded: not guessed here.
  t.regex(reason(q('COPY a "/with space/"\n')), /unterminated double quote/);
});

test('ENTRYPOINT clears a CMD not set in this file; shell forms run under /bin/sh -c; EXPOSE and --chown normalised', (t) => {
  const r = recipe(q('CMD ["a"]\nENTRYPOINT ["/e"]\nENTRYPOINT /e2 --x\nEXPOSE 80 53/UDP\nCOPY --chown=7 --chmod=0750 a /a\nCOPY --chown=1:2 a /b\n'));
  const c = changes(r);
  t.deepEqual(c[0], { cmd: ['a'] });
  t.deepEqual(c[1], { entrypoint: ['/e'], resetsCmd: false });
  t.deepEqual(c[2], { entrypoint: ['/bin/sh', '-c', '/e2 --x'], resetsCmd: false });
  t.deepEqual(c[3], { expose: ['53/udp', '80/tcp'] }, 'sorted, as BuildKit writes the map');
  t.deepEqual(recipe(q('ENTRYPOINT ["/e"]\n')).steps.map((s) => s.op === 'config' && 'entrypoint' in s.change && s.change.resetsCmd), [true]);
  const [a, b] = copies(r);
  t.deepEqual([a!.chown, a!.chmod], [{ uid: 7, gid: 7 }, 0o750]);
  t.deepEqual(b!.chown, { uid: 1, gid: 2 });
});

test('COPY --from a FROM-scratch stage that is itself COPY-only qualifies and carries that stage', (t) => {
  const r = recipe(q('', { head: 'ARG BASE_IMAGE\nFROM scratch AS files\nCOPY a /staged/a\nFROM $BASE_IMAGE\nCOPY --from=files /staged /x\nCOPY --from=0 /staged/a /y\n' }));
  t.deepEqual(Object.keys(r.stages), ['files']);
  t.deepEqual(copies(r).map((c) => [c.from, c.sources, c.dest]), [['files', ['staged'], '/x'], ['files', ['staged/a'], '/y']]);
});

test('the engine\'s BuildKit: 0.8 to 0.12 are assembled; later ones, and one that does not say, go to BuildKit', (t) => {
  const withEngine = (buildkit: string) => qualify({ dockerfile: `${HEAD}COPY a /a\n`, file: 'Dockerfile', platform: 'linux/amd64', buildArgs: { BASE_IMAGE: 'x' }, parent: {}, buildkit });
  for (const v of ['0.8.2', '0.10.6', '0.12.5']) t.true(withEngine(v).assemble, v);
  for (const v of ['0.13.0', '0.20.1', '1.0.0', 'unknown']) t.regex(reason(withEngine(v)), new RegExp(`engine runs BuildKit ${v.replace(/\./g, '\\.')}, whose images the assembler does not make`), v);
});

test('on the parent\'s config: ONBUILD triggers go to BuildKit; WorkingDir, User and Shell shape the recipe', (t) => {
  const on = (body: string, parent: Record<string, unknown>) => qualify({ dockerfile: HEAD + body, file: 'Dockerfile', platform: 'linux/amd64', buildArgs: { BASE_IMAGE: 'x' }, parent });
  t.regex(reason(on('COPY a /a\n', { OnBuild: ['RUN make'] })), /^the parent image has ONBUILD triggers, which BuildKit runs in this build at Dockerfile:2$/);
  t.is(copies(recipe(on('COPY a rel\n', { WorkingDir: '/var/lib/etcd' })))[0]!.dest, '/var/lib/etcd/rel');
  t.regex(reason(on('WORKDIR /x\n', { User: 'app' })), /^WORKDIR as USER app: .* at Dockerfile:3$/);
  t.true(on('WORKDIR /x\n', { User: '1000:1000' }).assemble);
  t.deepEqual(changes(recipe(on('CMD run x\n', { Shell: ['/bin/bash', '-c'] })))[0], { cmd: ['/bin/bash', '-c', 'run x'] });
});
