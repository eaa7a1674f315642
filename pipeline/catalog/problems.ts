/**
 * The catalog's problems, collected across every file so that one run reports all of them, and the
 * readers that add to them instead of throwing. A message is kept once: checks that run per channel
 * report a problem shared by several channels a single time.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { EksdError } from '../errors.ts';
import { parseYaml, readYaml, type YamlSource } from '../util/yaml-source.ts';
import { validateAgainstSchema } from '../util/schema.ts';

export class Problems {
  private readonly seen = new Set<string>();
  readonly list: string[] = [];

  add(message: string): void {
    if (this.seen.has(message)) return;
    this.seen.add(message);
    this.list.push(message);
  }

  get count(): number {
    return this.list.length;
  }

  throwIfAny(): void {
    if (this.list.length === 0) return;
    throw new EksdError('CATALOG_INVALID', `the catalog has ${this.list.length} problem(s):\n  ${this.list.join('\n  ')}`, {
      where: this.list[0]?.split(': ')[0],
      hint: 'fix the listed fields; see README "Catalog format" and schema/*.schema.json',
    });
  }
}

/**
 * Parsed files by path, shown name and text. Loading every channel parses the same files once per channel,
 * and parsing (with positions) is most of a load's time; a file whose text changed is parsed again.
 */
const parsed = new Map<string, YamlSource>();
const PARSED_MAX = 64;

export function readSource(file: string, problems: Problems): YamlSource | undefined {
  try {
    return cachedYaml(file);
  } catch (e) {
    if (!(e instanceof EksdError)) throw e;
    // The line starts with where it is; the reader's message names the file again: say it once.
    const shown = relative(process.cwd(), file) || file;
    problems.add(`${e.where ?? file}: ${e.message.startsWith(`${shown} is `) ? e.message.slice(shown.length + 4) : e.message}`);
    return undefined;
  }
}

function cachedYaml(file: string): YamlSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return readYaml(file); // throws the reader's own FILE_UNREADABLE
  }
  const shown = relative(process.cwd(), file) || file;
  const key = `${file}\0${shown}\0${text}`;
  const hit = parsed.get(key);
  if (hit) return hit;
  const source = parseYaml(text, file, { shown });
  if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value!);
  parsed.set(key, source);
  return source;
}

/** Runs a schema check, collecting its messages instead of throwing. */
export function schemaOk(name: string, source: YamlSource, problems: Problems): boolean {
  try {
    validateAgainstSchema(name, source);
    return true;
  } catch (e) {
    if (!(e instanceof EksdError)) throw e;
    for (const line of e.message.split('\n').slice(1)) problems.add(line.trim());
    return false;
  }
}
