/**
 * Word expansion as BuildKit's Dockerfile frontend does it for COPY, ENV, LABEL, WORKDIR, USER, EXPOSE,
 * STOPSIGNAL and FROM (its shell lexer, `frontend/dockerfile/shell`): quotes, backslash escapes, `$NAME`,
 * `${NAME}`, `${NAME:-word}`, `${NAME:+word}`. dockerfile-ast parses the file but does not expand words
 * against build args, so this small part is written here. Any other form throws `Unexpandable` and the
 * caller sends the recipe to BuildKit rather than guess: `${NAME%...}`, `${NAME/...}`, command
 * substitution, an unterminated quote, and `${NAME-word}` and `${NAME+word}` (an error in BuildKit 0.8,
 * expanded by 0.12). Special parameters (`$1`, `$@`, `$#`, ...) are never set: they expand to nothing.
 */

export class Unexpandable extends Error {}

/** Variables in scope: a name maps to its value; an absent name is unset. */
export type Scope = ReadonlyMap<string, string>;

export interface Expanded { value: string; /** Names read while expanding, set or not. */ used: string[] }

export function expandWord(word: string, scope: Scope): Expanded {
  const lexer = new Lexer(word, scope);
  return { value: lexer.word(), used: lexer.used };
}

class Lexer {
  private i = 0;
  readonly used: string[] = [];

  constructor(private readonly s: string, private readonly scope: Scope) {}

  word(stop = ''): string {
    let out = '';
    while (this.i < this.s.length && !stop.includes(this.s[this.i]!)) {
      const c = this.s[this.i]!;
      if (c === "'") out += this.single();
      else if (c === '"') out += this.double();
      else if (c === '\\') out += this.escaped();
      else if (c === '$') out += this.dollar();
      else { out += c; this.i++; }
    }
    return out;
  }

  private single(): string {
    const end = this.s.indexOf("'", this.i + 1);
    if (end < 0) throw new Unexpandable(`unterminated single quote in ${this.s}`);
    const out = this.s.slice(this.i + 1, end);
    this.i = end + 1;
    return out;
  }

  private double(): string {
    this.i++;
    let out = '';
    while (this.i < this.s.length && this.s[this.i] !== '"') {
      const c = this.s[this.i]!;
      if (c === '$') out += this.dollar();
      else if (c === '\\' && '"\\$`'.includes(this.s[this.i + 1] ?? '')) { out += this.s[this.i + 1]; this.i += 2; }
      else { out += c; this.i++; }
    }
    if (this.s[this.i] !== '"') throw new Unexpandable(`unterminated double quote in ${this.s}`);
    this.i++;
    return out;
  }

  private escaped(): string {
    const next = this.s[this.i + 1];
    this.i += 2;
    return next ?? '';
  }

  private dollar(): string {
    this.i++;
    const c = this.s[this.i];
    if (c === '{') return this.braced();
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i))?.[0];
    if (!name) {
      if (c === '(') throw new Unexpandable(`command substitution in ${this.s}`);
      if (c !== undefined && /[0-9@*#?$!-]/.test(c)) { this.i++; return ''; }
      return '$';
    }
    this.i += name.length;
    return this.lookup(name) ?? '';
  }

  private braced(): string {
    this.i++;
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i))?.[0];
    if (!name) throw new Unexpandable(`bad substitution in ${this.s}`);
    this.i += name.length;
    const value = this.lookup(name);
    if (this.s[this.i] === '}') { this.i++; return value ?? ''; }
    const op = /^:?[-+]/.exec(this.s.slice(this.i))?.[0];
    if (op === '-' || op === '+') throw new Unexpandable(`\${${name}${op}...} without ":" in ${this.s} (an error in BuildKit 0.8, expanded by later versions)`);
    if (!op) throw new Unexpandable(`unsupported substitution \${${name}${this.s.slice(this.i, this.i + 2)}...} in ${this.s}`);
    this.i += op.length;
    const alt = this.word('}');
    if (this.s[this.i] !== '}') throw new Unexpandable(`unterminated \${ in ${this.s}`);
    this.i++;
    const set = op.startsWith(':') ? value !== undefined && value !== '' : value !== undefined;
    if (op.endsWith('-')) return set ? value! : alt;
    return set ? alt : '';
  }

  private lookup(name: string): string | undefined {
    this.used.push(name);
    return this.scope.get(name);
  }
}
