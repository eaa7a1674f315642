/**
 * Which recipes the assembler can carry out, decided from the Dockerfile alone (pure). The file is parsed
 * with dockerfile-ast; words are expanded as BuildKit does (words.ts), with the platform's automatic args
 * (TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT, BUILD*), the build args, ARG defaults and the
 * ARGs declared before the first FROM. A recipe qualifies when its final stage is FROM a parent image
 * named by a build arg (or scratch) followed only by COPY from the context (or from a FROM-scratch stage
 * that qualifies itself) and metadata. Anything else gets the reason, naming the instruction and line.
 */
import { posix } from 'node:path';
import { DockerfileParser, type Instruction, type Property } from 'dockerfile-ast';
import { DEFAULT_PATH, DEFAULT_SHELL, startingEnv, type ConfigChange, type CopyStep, type Owner, type ParentConfig, type Recipe, type StageRecipe, type Step, type TargetPlatform } from './recipe.ts';
import { StageScope, type StageScopeMap, type StageStart } from './scope.ts';
import { MAX_USTAR_ID } from './tar-header.ts';
import { expandWord, Unexpandable, type Scope } from './words.ts';

export interface QualifyInput {
  /** The Dockerfile's text. */
  dockerfile: string;
  /** Its name in reasons ("Dockerfile", "docker/server/Dockerfile"). */
  file: string;
  /** "linux/arm64", "linux/arm/v7". */
  platform: string;
  buildArgs: Record<string, string>;
  /** Build args that name parent images (default BASE_IMAGE). */
  parentArgs?: string[];
  /**
   * The parent image's config: its Env, WorkingDir and User are where the final stage starts. Absent (the
   * parent is not built yet): a word using a variable the recipe does not set does not qualify, and the
   * recipe is qualified again with the parent's config before it is assembled.
   */
  parent?: ParentConfig;
  /**
   * The BuildKit of the engine that would otherwise build the image ("0.8.2"; "unknown" when the engine
   * does not say). Absent: not checked. The assembler makes the images of BuildKit 0.8 to 0.12 only.
   */
  buildkit?: string;
  /** The platform BuildKit runs on (BUILDPLATFORM), default linux/amd64. */
  buildPlatform?: string;
}

export type Qualification = { assemble: true; recipe: Recipe } | { assemble: false; reason: string };

/** Not assemblable: carries the reason up to qualify(). */
class Refusal extends Error {}

const METADATA = new Set(['ENV', 'WORKDIR', 'USER', 'ENTRYPOINT', 'CMD', 'EXPOSE', 'LABEL', 'STOPSIGNAL', 'ARG', 'COPY']);
const COPY_FLAGS = new Set(['from', 'chown', 'chmod']);
/** BuildKit 0.x minors whose images the assembler makes. */
const ASSEMBLED_MINORS = [8, 12] as const;
const SIGNALS = new Set(['ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR',
  'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ']);
/** Where a FROM scratch stage starts: BuildKit's empty image. */
const SCRATCH: StageStart = { env: [DEFAULT_PATH], workdir: '/', user: '', shell: DEFAULT_SHELL };

export function qualify(input: QualifyInput): Qualification {
  try {
    return { assemble: true, recipe: new Qualifier(input).recipe() };
  } catch (e) {
    if (e instanceof Refusal) return { assemble: false, reason: e.message };
    throw e;
  }
}

interface Stage { name: string | undefined; index: number; image: string; line: number; instructions: Instruction[] }

class Qualifier {
  private readonly text: string;
  private readonly lineStarts: number[];
  private readonly platform: TargetPlatform;
  private readonly auto: Map<string, string>;
  private readonly globals = new Map<string, string | undefined>();

  constructor(private readonly input: QualifyInput) {
    this.text = input.dockerfile;
    this.lineStarts = [0, ...[...this.text.matchAll(/\n/g)].map((m) => m.index + 1)];
    this.platform = parsePlatform(input.platform);
    this.auto = automaticArgs(this.platform, parsePlatform(input.buildPlatform ?? 'linux/amd64'));
  }

  recipe(): Recipe {
    this.checkBuildKit();
    const parsed = DockerfileParser.parse(this.text);
    for (const d of parsed.getDirectives()) {
      const name = d.getName().toLowerCase();
      if (name === 'syntax' || (name === 'escape' && d.getValue() !== '\\')) this.refuse(`the parser directive "${name}=${d.getValue()}"`, d.getRange().start.line + 1);
    }
    const stages = this.split(parsed.getInstructions());
    const final = stages[stages.length - 1]!;
    const base = this.base(final);
    const used = new Map<string, StageRecipe>();
    const steps = this.steps(final, stages, used, this.start(base, final));
    if (base.kind === 'scratch' && !steps.some((s) => s.op === 'copy')) this.refuse('a FROM scratch image without a COPY (BuildKit 0.8 cannot export an image with no layer)', final.line);
    return { platform: this.platform, base, steps, stages: Object.fromEntries(used) };
  }

  /**
   * BuildKit 0.8 is proven equal by the differential test; 0.9 to 0.12 write the same config, history and
   * copies (their source). 0.13 and later write another config (no OnBuild, COPY flags and ARG values
   * in the history, other --chmod bits): the assembler does not make their images.
   */
  private checkBuildKit(): void {
    const v = this.input.buildkit;
    if (v === undefined) return;
    const [major = NaN, minor = NaN] = v.split('.').map((n) => Number.parseInt(n, 10));
    if (major === 0 && minor >= ASSEMBLED_MINORS[0] && minor <= ASSEMBLED_MINORS[1]) return;
    this.refuse(`the engine runs BuildKit ${v}, whose images the assembler does not make (it makes those of BuildKit 0.${ASSEMBLED_MINORS[0]} to 0.${ASSEMBLED_MINORS[1]})`, 1);
  }

  /** Where the final stage starts: the parent's config (when known), or BuildKit's empty image. */
  private start(base: Recipe['base'], final: Stage): StageStart {
    if (base.kind === 'scratch') return SCRATCH;
    const parent = this.input.parent;
    if (!parent) return { env: undefined, workdir: '/', user: '', shell: DEFAULT_SHELL };
    if ((parent.OnBuild ?? []).length > 0) this.refuse('the parent image has ONBUILD triggers, which BuildKit runs in this build', final.line);
    const shell = Array.isArray(parent.Shell) && parent.Shell.length > 0 ? parent.Shell as string[] : DEFAULT_SHELL;
    return { env: startingEnv(parent.Env), workdir: parent.WorkingDir || '/', user: parent.User ?? '', shell };
  }

  /** The instructions by stage; ARGs before the first FROM become the global scope. */
  private split(instructions: Instruction[]): Stage[] {
    const stages: Stage[] = [];
    for (const i of instructions) {
      const keyword = i.getKeyword();
      if (keyword === 'FROM') stages.push(this.fromLine(i, stages.length));
      else if (stages.length > 0) stages[stages.length - 1]!.instructions.push(i);
      else if (keyword === 'ARG') this.globalArg(i);
      else this.refuse(`${keyword} before the first FROM`, this.line(i));
    }
    if (stages.length === 0) this.refuse('no FROM', 1);
    return stages;
  }

  private fromLine(i: Instruction, index: number): Stage {
    const flags = (i as unknown as { getFlags(): Array<{ getName(): string }> }).getFlags();
    if (flags.length > 0) this.refuse(`FROM --${flags[0]!.getName()}`, this.line(i));
    const args = i.getArguments().map((a) => a.getValue());
    const named = args.length === 3 && args[1]!.toUpperCase() === 'AS';
    if (args.length !== 1 && !named) this.refuse('a FROM this reader does not understand', this.line(i));
    return { name: named ? args[2]!.toLowerCase() : undefined, index, image: args[0]!, line: this.line(i), instructions: [] };
  }

  private globalArg(i: Instruction): void {
    for (const p of this.properties(i)) {
      const name = p.getName();
      const fallback = p.getValue() === null ? undefined : this.expand(this.rawValue(p), this.globalScope(), this.line(i));
      this.globals.set(name, this.input.buildArgs[name] ?? fallback);
    }
  }

  /** FROM lines see the automatic args and the global ARGs, declared or not. */
  private globalScope(): Scope {
    const scope = new Map(this.auto);
    for (const [k, v] of this.globals) if (v !== undefined) scope.set(k, v);
    return scope;
  }

  private base(final: Stage): Recipe['base'] {
    const image = final.image.trim();
    if (image.toLowerCase() === 'scratch') return { kind: 'scratch' };
    const arg = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$/.exec(image);
    const name = arg?.[1] ?? arg?.[2];
    const parents = this.input.parentArgs ?? ['BASE_IMAGE'];
    if (!name || !parents.includes(name)) {
      this.refuse(`FROM ${image}: the final stage must be FROM a parent image build arg (${parents.join(', ')}) or scratch`, final.line);
    }
    if (!this.globals.has(name!)) this.refuse(`FROM ${image}: ARG ${name} is not declared before the first FROM`, final.line);
    return { kind: 'parent', arg: name! };
  }

  private steps(stage: Stage, stages: Stage[], used: Map<string, StageRecipe>, start: StageStart): Step[] {
    const scope = new StageScope(this, start);
    const steps: Step[] = [];
    let cmdSet = false;
    for (const i of stage.instructions) {
      const keyword = i.getKeyword();
      const line = this.line(i);
      if (!METADATA.has(keyword)) this.refuse(`${keyword}`, line);
      if (keyword === 'COPY') { steps.push(this.copy(i, scope, stages, stage, used)); continue; }
      if (keyword === 'WORKDIR') { steps.push(this.workdir(i, scope)); continue; }
      const change = this.change(keyword, i, scope, cmdSet);
      if (keyword === 'CMD') cmdSet = true;
      if ('user' in change) scope.user = change.user;
      steps.push({ op: 'config', line, createdBy: createdBy(keyword, change, i), change });
    }
    return steps;
  }

  private change(keyword: string, i: Instruction, scope: StageScope, cmdSet: boolean): ConfigChange {
    const line = this.line(i);
    switch (keyword) {
      case 'ARG': return { arg: this.properties(i).map((p) => this.arg(p, scope, line)).join(' ') };
      case 'ENV': return { env: this.pairs(i, scope, (k, v) => scope.setEnv(k, v)) };
      case 'LABEL': return { labels: this.pairs(i, scope) };
      case 'USER': return { user: this.single(i, scope) };
      case 'STOPSIGNAL': return { stopSignal: this.signal(this.single(i, scope), line) };
      case 'EXPOSE': return { expose: [...new Set(this.words(i, scope).map((w) => this.port(w, line)))].sort() };
      case 'ENTRYPOINT': return { entrypoint: this.command(i, scope), resetsCmd: !cmdSet };
      default: return { cmd: this.command(i, scope) };
    }
  }

  private arg(p: Property, scope: StageScope, line: number): string {
    return scope.declare(p.getName(), p.getValue() === null ? undefined : this.expand(this.rawValue(p), scope.get(), line));
  }

  private copy(i: Instruction, scope: StageScope, stages: Stage[], stage: Stage, used: Map<string, StageRecipe>): CopyStep {
    const line = this.line(i);
    if ((i as unknown as { getHeredocs(): unknown[] }).getHeredocs().length > 0) this.refuse('COPY of a heredoc', line);
    const flags = this.flags(i, scope);
    const words = this.words(i, scope);
    if (words.length < 2) this.refuse('COPY without a source and a destination', line);
    const rawDest = words[words.length - 1]!;
    const sources = words.slice(0, -1).map((s) => this.source(s, line));
    if (sources.length > 1 && !rawDest.endsWith('/')) this.refuse('COPY of several sources into a destination without a trailing "/" (BuildKit rejects it)', line);
    const from = flags.from === undefined ? undefined : this.fromStage(flags.from, stages, stage, used, line);
    const step: CopyStep = { op: 'copy', line, createdBy: '', sources, dest: this.dest(rawDest, scope), ...(from ? { from } : {}) };
    if (flags.chown !== undefined) step.chown = this.owner(flags.chown, line);
    if (flags.chmod !== undefined) step.chmod = this.mode(flags.chmod, line);
    step.createdBy = `COPY ${words.slice(0, -1).join(' ')} ${rawDest} # buildkit`;
    return step;
  }

  private flags(i: Instruction, scope: StageScope): Record<string, string> {
    const out: Record<string, string> = {};
    for (const f of (i as unknown as { getFlags(): Array<{ getName(): string; getValue(): string | null }> }).getFlags()) {
      const name = f.getName();
      if (!COPY_FLAGS.has(name)) this.refuse(`COPY --${name}`, this.line(i));
      const value = f.getValue() ?? '';
      if (name !== 'chown' && value.includes('$')) this.refuse(`COPY --${name}=${value} (BuildKit 0.8 does not expand variables there, later versions do)`, this.line(i));
      out[name] = this.expand(value, scope.get(), this.line(i));
    }
    return out;
  }

  private fromStage(ref: string, stages: Stage[], current: Stage, used: Map<string, StageRecipe>, line: number): string {
    const source = stages.find((s) => s.index < current.index && (s.name === ref.toLowerCase() || String(s.index) === ref));
    if (!source) this.refuse(`COPY --from=${ref}: an image, not a stage of this Dockerfile`, line);
    const name = source!.name ?? String(source!.index);
    if (used.has(name)) return name;
    let steps: Step[] = [];
    try {
      steps = this.steps(source!, stages, used, SCRATCH);
    } catch (e) {
      if (e instanceof Refusal) this.refuse(`COPY --from=${ref}: stage ${name} has ${e.message}, and this COPY is`, line);
      throw e;
    }
    if (source!.image.toLowerCase() !== 'scratch') this.refuse(`COPY --from=${ref}: stage ${name} is FROM ${source!.image}, whose files the assembler does not read`, line);
    used.set(name, { name, steps });
    return name;
  }

  private source(word: string, line: number): string {
    if (/[*?[]/.test(word)) this.refuse(`COPY source ${word} with a wildcard`, line);
    if (/^[a-z]+:\/\//i.test(word)) this.refuse(`COPY source ${word} is a URL`, line);
    const clean = posix.join('/', word).slice(1);
    return clean === '' ? '.' : clean;
  }

  private dest(word: string, scope: StageScope): string {
    const joined = scope.resolve(word);
    const intoDir = word === '.' || word === '' || word.endsWith('/');
    return intoDir && !joined.endsWith('/') ? `${joined}/` : joined;
  }

  private owner(value: string, line: number): Owner {
    const m = /^(\d+)(?::(\d+))?$/.exec(value);
    if (!m) this.refuse(`COPY --chown=${value}: names need the parent's /etc/passwd and /etc/group, which BuildKit reads`, line);
    const uid = Number(m![1]);
    const gid = m![2] === undefined ? uid : Number(m![2]);
    if (uid > MAX_USTAR_ID || gid > MAX_USTAR_ID) this.refuse(`COPY --chown=${value}: an id over ${MAX_USTAR_ID} needs PAX owner records, which the assembler does not write`, line);
    return { uid, gid };
  }

  private mode(value: string, line: number): number {
    if (!/^[0-7]{3,4}$/.test(value)) this.refuse(`COPY --chmod=${value}: only octal modes`, line);
    return parseInt(value, 8);
  }

  private workdir(i: Instruction, scope: StageScope): Step {
    const owner = this.workdirOwner(scope.user, this.line(i));
    const word = this.single(i, scope);
    const path = scope.resolve(word);
    const workingDir = word.startsWith('/') ? word : path;
    scope.workdir = path;
    return { op: 'workdir', line: this.line(i), createdBy: `WORKDIR ${workingDir}`, path, workingDir, ...(owner ? { owner } : {}) };
  }

  /** BuildKit makes WORKDIR's directories as the USER: "uid[:gid]" (gid = uid when absent); a name needs the image's /etc/passwd. */
  private workdirOwner(user: string, line: number): Owner | undefined {
    if (user === '') return undefined;
    const m = /^(\d+)(?::(\d+))?$/.exec(user);
    if (!m) this.refuse(`WORKDIR as USER ${user}: its directories belong to a user named in the image's /etc/passwd, which BuildKit reads`, line);
    const owner = { uid: Number(m![1]), gid: Number(m![2] ?? m![1]) };
    if (owner.uid > MAX_USTAR_ID || owner.gid > MAX_USTAR_ID) this.refuse(`WORKDIR as USER ${user}: an id over ${MAX_USTAR_ID} needs PAX owner records, which the assembler does not write`, line);
    return owner;
  }

  /** A signal BuildKit accepts: a number above 0, or a Linux signal's name with or without SIG. */
  private signal(value: string, line: number): string {
    if (!/^[1-9]\d*$/.test(value) && !SIGNALS.has(value.toUpperCase().replace(/^SIG/, ''))) this.refuse(`STOPSIGNAL ${value}: not a signal BuildKit knows`, line);
    return value;
  }

  private port(word: string, line: number): string {
    const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(word);
    if (!m) this.refuse(`EXPOSE ${word}: only single ports`, line);
    return `${m![1]}/${(m![2] ?? 'tcp').toLowerCase()}`;
  }

  /** ENTRYPOINT and CMD: exec form as given, shell form under the image's SHELL (not expanded, as in BuildKit). */
  private command(i: Instruction, scope: StageScope): string[] {
    const content = i.getArgumentsContent() ?? '';
    try {
      const parsed: unknown = JSON.parse(content);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed as string[];
    } catch { /* shell form */ }
    return [...scope.shell, content];
  }

  private words(i: Instruction, scope: StageScope): string[] {
    const content = (i.getArgumentsContent() ?? '').trim();
    const line = this.line(i);
    try {
      const parsed: unknown = JSON.parse(content.replace(/^(--\S+\s+)+/, ''));
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return (parsed as string[]).map((w) => this.expand(w, scope.get(), line));
    } catch { /* shell form */ }
    const raw = i.getArguments().map((a) => a.getValue()).filter((w) => !w.startsWith('--'));
    return raw.map((w) => this.expand(w, scope.get(), line));
  }

  private single(i: Instruction, scope: StageScope): string {
    const content = (i.getArgumentsContent() ?? '').trim();
    if (content === '') this.refuse(`${i.getKeyword()} without a value`, this.line(i));
    return this.expand(content, scope.get(), this.line(i));
  }

  private pairs(i: Instruction, scope: StageScope, each?: (k: string, v: string) => void): Array<[string, string]> {
    const line = this.line(i);
    return this.properties(i).map((p) => {
      if (p.getValue() === null) this.refuse(`${i.getKeyword()} ${p.getName()} without a value`, line);
      const pair: [string, string] = [this.expand(p.getName(), scope.get(), line), this.expand(this.rawValue(p), scope.get(), line)];
      each?.(...pair);
      return pair;
    });
  }

  private properties(i: Instruction): Property[] {
    return (i as unknown as { getProperties?(): Property[]; getProperty?(): Property | null }).getProperties?.()
      ?? [(i as unknown as { getProperty(): Property | null }).getProperty()].filter((p): p is Property => p !== null);
  }

  /** The value as written (quotes and escapes included), for expandWord. */
  private rawValue(p: Property): string {
    const r = p.getValueRange();
    if (!r) return '';
    return this.text.slice(this.offset(r.start), this.offset(r.end)).replace(/\\\r?\n/g, '');
  }

  private offset(pos: { line: number; character: number }): number {
    return this.lineStarts[pos.line]! + pos.character;
  }

  expand(word: string, scope: Scope, line: number): string {
    try {
      const { value, used } = expandWord(word, scope);
      const known = scope as StageScopeMap;
      const unknown = used.find((n) => !scope.has(n) && !known.declared?.has(n));
      if (unknown !== undefined && known.complete === false) {
        this.refuse(`\$${unknown}, which may come from the parent image's environment`, line);
      }
      return value;
    } catch (e) {
      if (e instanceof Unexpandable) this.refuse(e.message, line);
      throw e;
    }
  }

  line(i: Instruction): number { return i.getRange().start.line + 1; }

  refuse(what: string, line: number): never {
    throw new Refusal(`${what} at ${this.input.file}:${line}`);
  }

  buildArg(name: string): string | undefined { return this.input.buildArgs[name]; }
  autoArg(name: string): string | undefined { return this.auto.get(name); }
  globalArgValue(name: string): string | undefined { return this.globals.get(name); }
}

function parsePlatform(platform: string): TargetPlatform {
  const [os, architecture, variant] = platform.split('/');
  if (!os || !architecture) throw new Error(`platform ${platform}: expected os/arch[/variant]`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

function automaticArgs(target: TargetPlatform, build: TargetPlatform): Map<string, string> {
  const name = (p: TargetPlatform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');
  return new Map([
    ['TARGETPLATFORM', name(target)], ['TARGETOS', target.os], ['TARGETARCH', target.architecture], ['TARGETVARIANT', target.variant ?? ''],
    ['BUILDPLATFORM', name(build)], ['BUILDOS', build.os], ['BUILDARCH', build.architecture], ['BUILDVARIANT', build.variant ?? ''],
  ]);
}

/** The history text BuildKit 0.8 writes for a metadata instruction. */
function createdBy(keyword: string, change: ConfigChange, i: Instruction): string {
  if ('expose' in change) return `EXPOSE map[${change.expose.map((p) => `${p}:{}`).join(' ')}]`;
  if ('entrypoint' in change) return `ENTRYPOINT ${goQuoted(change.entrypoint)}`;
  if ('cmd' in change) return `CMD ${goQuoted(change.cmd)}`;
  if ('env' in change) return `ENV ${change.env.map(([k, v]) => `${k}=${v}`).join(' ')}`;
  if ('labels' in change) return `LABEL ${change.labels.map(([k, v]) => `${k}=${v}`).join(' ')}`;
  if ('user' in change) return `USER ${change.user}`;
  if ('stopSignal' in change) return `STOPSIGNAL ${change.stopSignal}`;
  if ('arg' in change) return `ARG ${change.arg}`;
  return `${keyword} ${i.getArgumentsContent() ?? ''}`;
}

/** A list of strings as Go's %q prints a []string: `["/bin/x" "a b"]`. */
function goQuoted(list: string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}

const GO_ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '"': '\\"', '\\': '\\\\' };

/** strconv.Quote: printable characters as they are, the rest escaped. */
function goQuote(s: string): string {
  let out = '';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (GO_ESCAPES[ch]) out += GO_ESCAPES[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (!/\p{L}|\p{M}|\p{N}|\p{P}|\p{S}|\u0020/u.test(ch)) out += code > 0xffff ? `\\U${code.toString(16).padStart(8, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `"${out}"`;
}
