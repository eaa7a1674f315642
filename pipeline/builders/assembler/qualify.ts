/**
 * Which recipes the assembler can carry out, decided from the Dockerfile alone (pure). The file is parsed
 * with dockerfile-ast; words are expanded as BuildKit does (words.ts), with the platform's automatic args
 * (TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT, BUILD*), the build args, ARG defaults and the
 * ARGs declared before the first FROM. A recipe qualifies when its final stage is FROM a parent image
 * named by a build arg (or scratch) followed only by COPY from the context (or from a FROM-scratch stage
 * that qualifies itself) and metadata. Anything else gets the reason, naming the instruction and line.
 * This module walks the stages; each instruction is read by its own module under qualify/.
 */
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { DEFAULT_PATH, DEFAULT_SHELL, startingEnv, type ParentConfig, type Recipe, type StageRecipe, type Step, type TargetPlatform } from './recipe.ts';
import { StageScope, type StageStart } from './scope.ts';
import type { Scope } from './words.ts';
import { copyStep } from './qualify/copy.ts';
import { unassembledBuildKit } from './qualify/engine.ts';
import { configStep } from './qualify/metadata.ts';
import { automaticArgs, parsePlatform } from './qualify/platform.ts';
import { InstructionReader, Refusal } from './qualify/reader.ts';
import { workdirStep } from './qualify/workdir.ts';

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

/** The instructions the assembler carries out; any other is refused. */
const ASSEMBLED = new Set(['ENV', 'WORKDIR', 'USER', 'ENTRYPOINT', 'CMD', 'EXPOSE', 'LABEL', 'STOPSIGNAL', 'ARG', 'COPY']);
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
  private readonly reader: InstructionReader;
  private readonly platform: TargetPlatform;
  private readonly auto: Map<string, string>;
  private readonly globals = new Map<string, string | undefined>();

  constructor(private readonly input: QualifyInput) {
    this.reader = new InstructionReader(input.dockerfile, input.file);
    this.platform = parsePlatform(input.platform);
    this.auto = automaticArgs(this.platform, parsePlatform(input.buildPlatform ?? 'linux/amd64'));
  }

  recipe(): Recipe {
    this.checkEngine();
    const parsed = DockerfileParser.parse(this.input.dockerfile);
    for (const d of parsed.getDirectives()) {
      const name = d.getName().toLowerCase();
      if (name === 'syntax' || (name === 'escape' && d.getValue() !== '\\')) this.reader.refuse(`the parser directive "${name}=${d.getValue()}"`, d.getRange().start.line + 1);
    }
    const stages = this.split(parsed.getInstructions());
    const final = stages[stages.length - 1]!;
    const base = this.base(final);
    const used = new Map<string, StageRecipe>();
    const steps = this.steps(final, stages, used, this.start(base, final));
    if (base.kind === 'scratch' && !steps.some((s) => s.op === 'copy')) this.reader.refuse('a FROM scratch image without a COPY (BuildKit 0.8 cannot export an image with no layer)', final.line);
    return { platform: this.platform, base, steps, stages: Object.fromEntries(used) };
  }

  private checkEngine(): void {
    const reason = this.input.buildkit === undefined ? undefined : unassembledBuildKit(this.input.buildkit);
    if (reason !== undefined) this.reader.refuse(reason, 1);
  }

  /** Where the final stage starts: the parent's config (when known), or BuildKit's empty image. */
  private start(base: Recipe['base'], final: Stage): StageStart {
    if (base.kind === 'scratch') return SCRATCH;
    const parent = this.input.parent;
    if (!parent) return { env: undefined, workdir: '/', user: '', shell: DEFAULT_SHELL };
    if ((parent.OnBuild ?? []).length > 0) this.reader.refuse('the parent image has ONBUILD triggers, which BuildKit runs in this build', final.line);
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
      else this.reader.refuse(`${keyword} before the first FROM`, this.reader.line(i));
    }
    if (stages.length === 0) this.reader.refuse('no FROM', 1);
    return stages;
  }

  private fromLine(i: Instruction, index: number): Stage {
    const line = this.reader.line(i);
    const flags = (i as unknown as { getFlags(): Array<{ getName(): string }> }).getFlags();
    if (flags.length > 0) this.reader.refuse(`FROM --${flags[0]!.getName()}`, line);
    const args = i.getArguments().map((a) => a.getValue());
    const named = args.length === 3 && args[1]!.toUpperCase() === 'AS';
    if (args.length !== 1 && !named) this.reader.refuse('a FROM this reader does not understand', line);
    return { name: named ? args[2]!.toLowerCase() : undefined, index, image: args[0]!, line, instructions: [] };
  }

  private globalArg(i: Instruction): void {
    for (const p of this.reader.properties(i)) {
      const name = p.getName();
      const fallback = p.getValue() === null ? undefined : this.reader.expand(this.reader.rawValue(p), this.globalScope(), this.reader.line(i));
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
      this.reader.refuse(`FROM ${image}: the final stage must be FROM a parent image build arg (${parents.join(', ')}) or scratch`, final.line);
    }
    if (!this.globals.has(name)) this.reader.refuse(`FROM ${image}: ARG ${name} is not declared before the first FROM`, final.line);
    return { kind: 'parent', arg: name };
  }

  private steps(stage: Stage, stages: Stage[], used: Map<string, StageRecipe>, start: StageStart): Step[] {
    const scope = new StageScope(this, start);
    const fromStage = (ref: string, line: number): string => this.fromStage(ref, stages, stage, used, line);
    const steps: Step[] = [];
    let cmdSet = false;
    for (const i of stage.instructions) {
      const keyword = i.getKeyword();
      if (!ASSEMBLED.has(keyword)) this.reader.refuse(`${keyword}`, this.reader.line(i));
      if (keyword === 'COPY') steps.push(copyStep(i, scope, this.reader, fromStage));
      else if (keyword === 'WORKDIR') steps.push(workdirStep(i, scope, this.reader));
      else steps.push(configStep(keyword, i, scope, this.reader, cmdSet));
      if (keyword === 'CMD') cmdSet = true;
    }
    return steps;
  }

  /** A COPY --from stage: an earlier FROM scratch stage that qualifies itself, added to the recipe once. */
  private fromStage(ref: string, stages: Stage[], current: Stage, used: Map<string, StageRecipe>, line: number): string {
    const source = stages.find((s) => s.index < current.index && (s.name === ref.toLowerCase() || String(s.index) === ref));
    if (!source) return this.reader.refuse(`COPY --from=${ref}: an image, not a stage of this Dockerfile`, line);
    const name = source.name ?? String(source.index);
    if (used.has(name)) return name;
    let steps: Step[] = [];
    try {
      steps = this.steps(source, stages, used, SCRATCH);
    } catch (e) {
      if (e instanceof Refusal) this.reader.refuse(`COPY --from=${ref}: stage ${name} has ${e.message}, and this COPY is`, line);
      throw e;
    }
    if (source.image.toLowerCase() !== 'scratch') this.reader.refuse(`COPY --from=${ref}: stage ${name} is FROM ${source.image}, whose files the assembler does not read`, line);
    used.set(name, { name, steps });
    return name;
  }

  buildArg(name: string): string | undefined { return this.input.buildArgs[name]; }
  autoArg(name: string): string | undefined { return this.auto.get(name); }
  globalArgValue(name: string): string | undefined { return this.globals.get(name); }
}
