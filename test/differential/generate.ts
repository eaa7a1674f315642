/**
 * Generates differential cases from a seed: recipes inside the grammar the qualifier accepts (every
 * instruction and COPY flag it knows, variables wherever a word is expanded, several stages, COPY --from
 * a stage), a few forms it must refuse, contexts (files, nested and empty directories, special modes,
 * owners, long and non-ASCII names) and parents (configs that set WorkingDir, Env, User, Shell, OnBuild;
 * files at the paths recipes copy to, with other modes and owners, and symlinks).
 */
import type { Platform } from '../../pipeline/config/config.ts';
import type { Case, FsEntry, ParentSpec } from './case.ts';

/** A small seeded generator (mulberry32): the same seed gives the same cases on every machine. */
export class Random {
  private s: number;

  constructor(seed: string) {
    let h = 1779033703 ^ seed.length;
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 3432918353), h = (h << 13) | (h >>> 19);
    this.s = h >>> 0;
  }

  next(): number {
    let t = (this.s += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number { return Math.floor(this.next() * n); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]!; }
  some<T>(xs: readonly T[], max: number): T[] {
    const pool = [...xs];
    const out: T[] = [];
    for (let n = 1 + this.int(max); n > 0 && pool.length > 0; n--) out.push(pool.splice(this.int(pool.length), 1)[0]!);
    return out;
  }
}

const LONG = 'l'.repeat(60);
/** Names that need a PAX header or a ustar prefix split, and names that are not ASCII. */
const ODD_NAMES = [`${LONG}/${LONG}/deep.txt`, `${'n'.repeat(101)}.txt`, 'tree/é-日本.txt', `tree/${'p'.repeat(90)}/${'q'.repeat(90)}/${'r'.repeat(90)}.txt`];
const FILE_MODES = [0o644, 0o755, 0o600, 0o700, 0o4755, 0o2755, 0o640];
const DIR_MODES = [0o755, 0o700, 0o1777, 0o2775, 0o750];
const OWNERS: Array<[number, number]> = [[0, 0], [1000, 1000], [12, 34]];

export function generateCase(seed: string, index: number): Case {
  const r = new Random(`${seed}/${index}`);
  const platform: Platform = r.pick(['linux/amd64', 'linux/arm64']);
  const context = generateContext(r);
  const withParent = r.chance(0.85);
  const parent = withParent ? generateParent(r) : undefined;
  const { dockerfile, buildArgs } = new Recipe(r, context, withParent).text();
  return { id: `${seed}/${index}`, platform, ...(parent ? { parent } : {}), context, dockerfile, buildArgs };
}

function owner(r: Random): { uid: number; gid: number } {
  const [uid, gid] = r.pick(OWNERS);
  return { uid, gid };
}

function generateContext(r: Random): FsEntry[] {
  const files = ['a.txt', 'b.sh', 'bin-amd64', 'bin-arm64', 'rootfs/etc/app.conf', 'rootfs/tmp/t.txt', 'rootfs/home/app/.profile', 'rootfs/opt/bin/tool', 'tree/x/y.txt', 'tree/z.txt'];
  const picked = [...r.some(files, 6), ...(r.chance(0.35) ? r.some(ODD_NAMES, 2) : [])];
  if (!picked.includes('a.txt')) picked.push('a.txt');
  const exotic = r.chance(0.3);
  const entries: FsEntry[] = picked.map((path) => ({ path, type: 'file', content: `${path} ${r.int(1000)}\n`,
    mode: exotic ? r.pick(FILE_MODES) : r.pick([0o644, 0o755]), ...(exotic ? owner(r) : { uid: 0, gid: 0 }) }));
  const dirs = new Set<string>();
  for (const e of entries) for (let d = e.path; d.includes('/');) { d = d.slice(0, d.lastIndexOf('/')); dirs.add(d); }
  if (r.chance(0.3)) dirs.add('tree/empty');
  for (const d of [...dirs].sort()) {
    const special = exotic && r.chance(0.5);
    entries.push({ path: d, type: 'dir', mode: special ? r.pick(DIR_MODES) : 0o755, ...(special ? owner(r) : { uid: 0, gid: 0 }) });
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\napp:x:1000:\n';

function generateParent(r: Random): ParentSpec {
  const entries: FsEntry[] = [
    { path: 'etc', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'etc/passwd', type: 'file', mode: 0o644, uid: 0, gid: 0, content: PASSWD },
    { path: 'etc/group', type: 'file', mode: 0o644, uid: 0, gid: 0, content: GROUP },
  ];
  const optional: FsEntry[] = [
    { path: 'tmp', type: 'dir', mode: 0o1777, uid: 0, gid: 0 },
    { path: 'home', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'home/app', type: 'dir', mode: r.pick([0o750, 0o700, 0o755]), uid: 1000, gid: 1000 },
    { path: 'opt', type: 'dir', mode: r.pick([0o711, 0o755, 0o775]), uid: r.pick([0, 7]), gid: 0 },
    { path: 'opt/bin', type: 'dir', mode: 0o700, uid: 1000, gid: 1000 },
    { path: 'var', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'var/lib', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'var/lib/etcd', type: 'dir', mode: 0o700, uid: 1000, gid: 1000 },
    { path: 'etc/app.conf', type: 'file', mode: 0o600, uid: 1000, gid: 1000, content: 'parent\n' },
    { path: 'usr', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'usr/lib', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'lib', type: 'symlink', mode: 0o777, uid: 0, gid: 0, link: 'usr/lib' },
    { path: 'link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, link: '/opt' },
  ];
  for (const e of optional) {
    const needs = e.path.includes('/') ? e.path.slice(0, e.path.lastIndexOf('/')) : '';
    const target = e.link?.replace(/^\//, '');
    const parentThere = needs === '' || entries.some((x) => x.path === needs);
    const targetThere = target === undefined || entries.some((x) => x.path === target);
    if (parentThere && targetThere && r.chance(0.7)) entries.push(e);
  }
  return { entries, config: parentConfig(r) };
}

function parentConfig(r: Random): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  if (r.chance(0.8)) config.Env = r.some(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'D=/parentd', 'FOO=from parent', 'U=77'], 3);
  if (r.chance(0.5)) config.WorkingDir = r.pick(['/', '/var/lib/etcd', '/home/app', '/srv/wd']);
  if (r.chance(0.35)) config.User = r.pick(['1000', '1000:1000', 'app', '0']);
  if (r.chance(0.2)) config.Shell = ['/bin/bash', '-c'];
  if (r.chance(0.1)) config.OnBuild = ['LABEL from-onbuild=1'];
  if (r.chance(0.3)) config.Cmd = ['parent-cmd'];
  if (r.chance(0.2)) config.Entrypoint = ['/parent-entry'];
  if (r.chance(0.3)) config.Labels = { parent: 'yes', shared: 'parent' };
  if (r.chance(0.2)) config.ExposedPorts = { '22/tcp': {} };
  if (r.chance(0.1)) config.StopSignal = 'SIGQUIT';
  return config;
}

/** The Dockerfile of one case, written line by line. */
class Recipe {
  private readonly lines: string[] = [];
  private readonly buildArgs: Record<string, string> = {};
  /** Paths a COPY --from can read from each scratch stage. */
  private readonly stagePaths = new Map<string, string[]>();

  constructor(private readonly r: Random, private readonly context: FsEntry[], private readonly withParent: boolean) {}

  text(): { dockerfile: string; buildArgs: Record<string, string> } {
    const r = this.r;
    if (this.withParent) this.lines.push('ARG BASE_IMAGE');
    if (r.chance(0.3)) { this.lines.push(`ARG G=${r.pick(['/global', 'gv'])}`); if (r.chance(0.3)) this.buildArgs.G = '/from-build-arg'; }
    if (r.chance(0.3)) this.scratchStage('files');
    if (r.chance(0.15)) this.scratchStage('more');
    this.lines.push(this.withParent ? r.pick(['FROM $BASE_IMAGE', 'FROM ${BASE_IMAGE}', 'FROM $BASE_IMAGE AS final']) : 'FROM scratch');
    for (let n = 1 + r.int(8); n > 0; n--) this.instruction(true);
    return { dockerfile: `${this.lines.join('\n')}\n`, buildArgs: this.buildArgs };
  }

  private scratchStage(name: string): void {
    this.lines.push(`FROM scratch AS ${name}`);
    const dest = this.r.pick(['/staged/', '/staged/sub/', 'rel/']);
    const sources = this.sources();
    this.lines.push(`COPY ${this.r.chance(0.3) ? '--chmod=0750 ' : ''}${sources.join(' ')} ${dest}`);
    const root = dest.startsWith('/') ? dest.slice(0, -1) : `/${dest.slice(0, -1)}`;
    this.stagePaths.set(name, [root, `${root}/`, ...sources.filter((s) => this.isFile(s)).map((s) => `${root}/${s.slice(s.lastIndexOf('/') + 1)}`)]);
    if (this.r.chance(0.4)) this.instruction(false);
  }

  private instruction(final: boolean): void {
    const r = this.r;
    const kinds = ['COPY', 'COPY', 'COPY', 'WORKDIR', 'ENV', 'ARG', 'LABEL', 'USER', 'EXPOSE', 'STOPSIGNAL', 'CMD', 'ENTRYPOINT', 'ODD'];
    const kind = r.pick(final ? kinds : kinds.filter((k) => k !== 'ODD'));
    this.lines.push(this.line(kind, final));
  }

  private line(kind: string, final: boolean): string {
    const r = this.r;
    switch (kind) {
      case 'COPY': return this.copy(final);
      case 'WORKDIR': return `WORKDIR ${r.pick(['/', '/w', 'rel', 'sub/dir', '../up', '/a/../b/', '$D', '${G}', '/var/lib/etcd/x', '/srv/wd'])}`;
      case 'ENV': return `ENV ${r.pick(['D=/envd', 'D /envd', 'A=1 B="two words"', 'PATH=/opt/bin:$PATH', 'E=${D}/e', 'FOO="x $FOO"', 'U=4321', 'M=0640', 'P=8080', 'SIG=SIGUSR1', '${G}_K=v'])}`;
      case 'ARG': return `ARG ${r.pick(['D=/argd', 'D', 'TARGETARCH=foo', 'TARGETARCH', 'TARGETARCH', 'PATH', 'U=1234', 'M=0700', 'G', 'FOO', 'S=files', 'P=9090', 'SIG=SIGHUP'])}`;
      case 'LABEL': return `LABEL ${r.pick(['a=b', '"key with space"="value with space"', 'description="a long \\\n      indented continuation"', 'x=$D', 'shared=child other=$TARGETARCH', "q='single $D'", 'k-$TARGETARCH=v', 'e="quote \\" inside"'])}`;
      case 'USER': return `USER ${r.pick(['1000', '1000:1000', 'app', '$U', '0', '65532:65532'])}`;
      case 'EXPOSE': return `EXPOSE ${r.pick(['80', '80/udp 80', '443 80 443', '$P', '53/udp 53/tcp'])}`;
      case 'STOPSIGNAL': return `STOPSIGNAL ${r.pick(['SIGTERM', '9', 'SIGINT', '$SIG'])}`;
      case 'CMD': return `CMD ${r.pick(['["a", "b c"]', 'run $D', 'echo "hi there"', '[]', '["--flag=$D"]'])}`;
      case 'ENTRYPOINT': return `ENTRYPOINT ${r.pick(['["/bin/x"]', 'exec x $D', '["/entry", "arg"]'])}`;
      default: return r.pick(['COPY a.txt /odd/$1/', 'LABEL odd=${X-def}', 'COPY a.txt /odd/${D:-dflt}/', 'LABEL alt=${D:+set}', 'COPY a.txt $@x/']);
    }
  }

  private copy(final: boolean): string {
    const r = this.r;
    const flags: string[] = [];
    if (r.chance(0.25)) flags.push(`--chown=${r.pick(['1000', '1000:1000', '0:0', '$U', '33:44'])}`);
    if (r.chance(0.25)) flags.push(`--chmod=${r.pick(['0755', '644', '4755', '2755', '1777', '0600', '$M'])}`);
    const stages = [...this.stagePaths.keys()];
    if (final && stages.length > 0 && r.chance(0.4)) {
      const stage = r.pick(stages);
      flags.push(`--from=${r.chance(0.15) ? '$S' : stage}`);
      return `COPY ${flags.join(' ')} ${r.pick(this.stagePaths.get(stage)!)} ${this.dest(true)}`.replace(/ +/g, ' ');
    }
    const sources = this.sources();
    return `COPY ${flags.join(' ')} ${sources.join(' ')} ${this.dest(sources.length > 1 || !this.isFile(sources[0]!))}`.replace(/ +/g, ' ');
  }

  private sources(): string[] {
    const r = this.r;
    const files = this.context.filter((e) => e.type === 'file').map((e) => e.path);
    const dirs = this.context.filter((e) => e.type === 'dir').map((e) => e.path);
    const pool = [...files, ...dirs, ...dirs.map((d) => `${d}/`), '.', 'rootfs/', 'bin-$TARGETARCH', 'bin-${TARGETARCH}'].filter((p) => p === '.' || p === 'rootfs/' || files.includes(p) || dirs.includes(p.replace(/\/$/, '')) || (p.startsWith('bin-$') && files.includes('bin-amd64') && files.includes('bin-arm64')));
    if (!dirs.includes('rootfs')) pool.splice(pool.indexOf('rootfs/'), 1);
    return r.chance(0.8) ? [r.pick(pool)] : r.some(pool, 3);
  }

  private isFile(source: string): boolean {
    return this.context.some((e) => e.path === source && e.type === 'file');
  }

  private dest(dirOnly: boolean): string {
    const r = this.r;
    const dirs = ['/', '/new/deep/', '/tmp/', '/home/app/', '/opt/', '/var/lib/etcd/', 'rel/', '.', './', '$D/', '${D}/sub/', '/link/x/', '/lib/', '${G}/', '/etc/'];
    const files = ['/etc/app.conf', 'rel.txt', '/new/file.txt', '/link/f.txt', '$D/f'];
    return dirOnly || r.chance(0.6) ? r.pick(dirs) : r.pick(files);
  }
}

/** What a case exercises, named as in BRANCHES: lets a test check that its cases reach every branch of the generator. */
export function branches(c: Case): string[] {
  const df = c.dockerfile;
  const has = (re: RegExp) => re.test(df);
  const out: string[] = [c.platform];
  for (const k of ['COPY', 'WORKDIR', 'ENV', 'ARG', 'LABEL', 'USER', 'EXPOSE', 'STOPSIGNAL', 'CMD', 'ENTRYPOINT']) if (has(new RegExp(`^${k} `, 'm'))) out.push(k);
  const checks: Array<[string, boolean]> = [
    ['--chown', has(/--chown=/)], ['--chmod', has(/--chmod=/)], ['--from', has(/--from=/)], ['shell form', has(/^(CMD|ENTRYPOINT) [^[]/m)],
    ['exec form', has(/^(CMD|ENTRYPOINT) \[/m)], ['scratch stage', has(/^FROM scratch AS/m)], ['final FROM scratch', /FROM scratch\n(?![\s\S]*FROM)/.test(df)],
    ['special parameter', has(/\$[1@]/)], ['no-colon default', has(/\$\{X-/)], ['colon forms', has(/\$\{D:[-+]/)], ['variable in source', has(/ bin-\$/)],
    ['variable in destination', has(/^COPY .* \S*\$\{?[A-Z]+\}?\S*$/m)], ['variable in flag', has(/--(chown|chmod|from)=\$/)],
    ['variable in WORKDIR', has(/^WORKDIR \S*\$/m)], ['variable in LABEL key', has(/^LABEL \S*\$\S*=/m)], ['variable in STOPSIGNAL', has(/^STOPSIGNAL \$/m)],
    ['global ARG', has(/^ARG G=/m)], ['build arg', Object.keys(c.buildArgs).length > 0], ['line continuation', has(/\\\n/)],
    ['long name', c.context.some((e) => e.path.length > 100)], ['non-ASCII name', c.context.some((e) => /[^\x00-\x7f]/.test(e.path))],
    ['special mode', c.context.some((e) => (e.mode & 0o7000) !== 0)], ['owned context', c.context.some((e) => e.uid !== 0)],
    ['empty directory', c.context.some((e) => e.path === 'tree/empty')], ['no parent', c.parent === undefined],
  ];
  for (const [name, yes] of checks) if (yes) out.push(name);
  for (const k of ['WorkingDir', 'Env', 'User', 'Shell', 'OnBuild', 'Cmd', 'Entrypoint', 'Labels', 'ExposedPorts', 'StopSignal']) {
    if (c.parent && k in c.parent.config) out.push(`parent ${k}`);
  }
  if (c.parent?.entries.some((e) => e.type === 'symlink')) out.push('parent symlink');
  return out;
}

export const BRANCHES = ['linux/amd64', 'linux/arm64', 'COPY', 'WORKDIR', 'ENV', 'ARG', 'LABEL', 'USER', 'EXPOSE', 'STOPSIGNAL', 'CMD', 'ENTRYPOINT',
  '--chown', '--chmod', '--from', 'shell form', 'exec form', 'scratch stage', 'final FROM scratch', 'special parameter', 'no-colon default', 'colon forms',
  'variable in source', 'variable in destination', 'variable in flag', 'variable in WORKDIR', 'variable in LABEL key', 'variable in STOPSIGNAL', 'global ARG',
  'build arg', 'line continuation', 'long name', 'non-ASCII name', 'special mode', 'owned context', 'empty directory', 'no parent', 'parent WorkingDir',
  'parent Env', 'parent User', 'parent Shell', 'parent OnBuild', 'parent Cmd', 'parent Entrypoint', 'parent Labels', 'parent ExposedPorts', 'parent StopSignal',
  'parent symlink'];
