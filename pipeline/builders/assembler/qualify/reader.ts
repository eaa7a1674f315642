/**
 * How the qualifier reads an instruction of one Dockerfile: its line, its words, values and commands
 * expanded as BuildKit does (words.ts) in a stage's scope, and a refusal that names the file and line.
 * dockerfile-ast parses the file but keeps a property's value without its quotes and escapes, so the raw
 * value is cut from the text here.
 */
import type { Instruction, Property } from 'dockerfile-ast';
import type { StageScope, StageScopeMap } from '../scope.ts';
import { expandWord, Unexpandable, type Scope } from '../words.ts';

/** Not assemblable: carries the reason up to qualify(). */
export class Refusal extends Error {}

export class InstructionReader {
  private readonly lineStarts: number[];

  constructor(private readonly text: string, private readonly file: string) {
    this.lineStarts = [0, ...[...text.matchAll(/\n/g)].map((m) => m.index + 1)];
  }

  line(i: Instruction): number { return i.getRange().start.line + 1; }

  refuse(what: string, line: number): never {
    throw new Refusal(`${what} at ${this.file}:${line}`);
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

  /** ENTRYPOINT and CMD: exec form as given, shell form under the image's SHELL (not expanded, as in BuildKit). */
  command(i: Instruction, scope: StageScope): string[] {
    const content = i.getArgumentsContent() ?? '';
    try {
      const parsed: unknown = JSON.parse(content);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed as string[];
    } catch { /* shell form */ }
    return [...scope.shell, content];
  }

  /** The arguments after any --flags, exec form or shell form, each expanded. */
  words(i: Instruction, scope: StageScope): string[] {
    const content = (i.getArgumentsContent() ?? '').trim();
    const line = this.line(i);
    try {
      const parsed: unknown = JSON.parse(content.replace(/^(--\S+\s+)+/, ''));
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return (parsed as string[]).map((w) => this.expand(w, scope.get(), line));
    } catch { /* shell form */ }
    const raw = i.getArguments().map((a) => a.getValue()).filter((w) => !w.startsWith('--'));
    return raw.map((w) => this.expand(w, scope.get(), line));
  }

  /** The whole argument text as one word, expanded (USER, WORKDIR, STOPSIGNAL). */
  single(i: Instruction, scope: StageScope): string {
    const content = (i.getArgumentsContent() ?? '').trim();
    if (content === '') this.refuse(`${i.getKeyword()} without a value`, this.line(i));
    return this.expand(content, scope.get(), this.line(i));
  }

  /** ENV and LABEL: key=value pairs, each expanded in the scope as it stands after the pairs before it. */
  pairs(i: Instruction, scope: StageScope, each?: (k: string, v: string) => void): Array<[string, string]> {
    const line = this.line(i);
    return this.properties(i).map((p) => {
      if (p.getValue() === null) this.refuse(`${i.getKeyword()} ${p.getName()} without a value`, line);
      const pair: [string, string] = [this.expand(p.getName(), scope.get(), line), this.expand(this.rawValue(p), scope.get(), line)];
      each?.(...pair);
      return pair;
    });
  }

  properties(i: Instruction): Property[] {
    return (i as unknown as { getProperties?(): Property[]; getProperty?(): Property | null }).getProperties?.()
      ?? [(i as unknown as { getProperty(): Property | null }).getProperty()].filter((p): p is Property => p !== null);
  }

  /** The value as written (quotes and escapes included), for expandWord. */
  rawValue(p: Property): string {
    const r = p.getValueRange();
    if (!r) return '';
    return this.text.slice(this.offset(r.start), this.offset(r.end)).replace(/\\\r?\n/g, '');
  }

  private offset(pos: { line: number; character: number }): number {
    return this.lineStarts[pos.line]! + pos.character;
  }
}
