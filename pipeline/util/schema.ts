/** JSON Schema validation of YAML sources, with every violation located at file:line:col and field path. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { EksdError } from '../errors.ts';
import type { FieldPath, YamlSource } from './yaml-source.ts';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
const compiled = new Map<string, ValidateFunction>();

function validator(name: string): ValidateFunction {
  let fn = compiled.get(name);
  if (!fn) {
    const file = fileURLToPath(new URL(`../../schema/${name}.schema.json`, import.meta.url));
    fn = ajv.compile(JSON.parse(readFileSync(file, 'utf8')));
    compiled.set(name, fn);
  }
  return fn;
}

/** Validates `source.data` against schema/<name>.schema.json; throws one error listing every violation. */
export function validateAgainstSchema(name: string, source: YamlSource): void {
  const validate = validator(name);
  if (validate(source.data)) return;
  const problems = (validate.errors ?? []).map((e) => describe(e, source));
  throw new EksdError('SCHEMA_INVALID', `${source.shown} does not match schema/${name}.schema.json:\n  ${problems.join('\n  ')}`, {
    where: problems[0]?.split(': ')[0] ?? source.shown,
    hint: `see schema/${name}.schema.json (editors validate as you type with the yaml-language-server comment)`,
  });
}

function describe(e: ErrorObject, source: YamlSource): string {
  const path: (string | number)[] = e.instancePath.split('/').slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      return `${source.at([...path, key])}: unknown key '${key}'; expected one of ${allowedKeys(e)}`;
    }
    case 'required':
      return `${source.at(path)}: missing required field '${String(params.missingProperty)}'`;
    case 'type':
      return `${source.at(path)}: expected ${String(params.type)}, found ${typeName(valueAt(source.data, path))}`;
    case 'enum':
      return `${source.at(path)}: ${JSON.stringify(valueAt(source.data, path))} is not allowed; expected one of ${(params.allowedValues as unknown[]).join(', ')}`;
    case 'pattern': {
      const about = (e.parentSchema as { description?: string } | undefined)?.description;
      return `${source.at(path)}: ${JSON.stringify(valueAt(source.data, path))} does not match ${String(params.pattern)}${about ? ` (${about.replace(/\.$/, '')})` : ''}`;
    }
    default:
      return `${source.at(path)}: ${e.message ?? e.keyword}`;
  }
}

function allowedKeys(e: ErrorObject): string {
  const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props).join(', ') : 'the keys in the schema';
}

function valueAt(data: unknown, path: FieldPath): unknown {
  let v: unknown = data;
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<string | number, unknown>)[p] : undefined;
  return v;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
