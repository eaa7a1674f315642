/**
 * The catalog's problems, collected across every file so that one run reports all of them, and the
 * readers that add to them instead of throwing. A message is kept once: checks that run per channel
 * report a problem shared by several channels a single time.
 */
import { EksdError } from '../errors.ts';
import { readYaml, type YamlSource } from '../util/yaml-source.ts';
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

export function readSource(file: string, problems: Problems): YamlSource | undefined {
  try {
    return readYaml(file);
  } catch (e) {
    if (!(e instanceof EksdError)) throw e;
    problems.add(`${e.where ?? file}: ${e.message}`);
    return undefined;
  }
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
