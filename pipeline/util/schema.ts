/**
 * JSON Schema validation (Ajv): compiled checks whose violations name the field they are about, and
 * the check of a YAML source against schema/<name>.schema.json with every violation located at
 * file:line:col and field path.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type Format } from 'ajv';
import { EksdError } from '../errors.ts';
import type { FieldPath, YamlSource } from './yaml-source.ts';

export interface SchemaViolation {
  /** The field the violation is about, from Ajv's instancePath. */
  path: FieldPath;
  error: ErrorObject;
}

/** Every violation of data; empty when it is valid. */
export type SchemaCheck = (data: unknown) => SchemaViolation[];

/** Compiles a schema; `formats` adds the checks of `format` keywords the schema uses. */
export function compileSchema(schema: object, formats: Record<string, Format> = {}): SchemaCheck {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true, formats });
  const validate = ajv.compile(schema);
  return (data) => (validate(data) ? [] : (validate.errors ?? []).map((error) => ({ path: pointerToPath(error.instancePath), error })));
}

/** `/images/0/from` → ['images', 0, 'from'] (RFC 6901 escapes undone; only canonical indexes become numbers). */
function pointerToPath(pointer: string): FieldPath {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((s) => {
    const key = s.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : key;
  });
}

const fileChecks = new Map<string, SchemaCheck>();

function fileCheck(name: string): SchemaCheck {
  let check = fileChecks.get(name);
  if (!check) {
    const file = fileURLToPath(new URL(`../../schema/${name}.schema.json`, import.meta.url));
    check = compileSchema(JSON.parse(readFileSync(file, 'utf8')));
    fileChecks.set(name, check);
  }
  return check;
}

/** Validates `source.data` against schema/<name>.schema.json; throws one error listing every violation. */
export function validateAgainstSchema(name: string, source: YamlSource): void {
  const violations = fileCheck(name)(source.data);
  if (violations.length === 0) return;
  const problems = violations.map((v) => describe(v, source));
  throw new EksdError('SCHEMA_INVALID', `${source.shown} does not match schema/${name}.schema.json:\n  ${problems.join('\n  ')}`, {
    where: problems[0]?.split(': ')[0] ?? source.shown,
    hint: `see schema/${name}.schema.json (editors validate as you type with the yaml-language-server comment)`,
  });
}

function describe({ path, error: e }: SchemaViolation, source: YamlSource): string {
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
