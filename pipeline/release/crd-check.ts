/**
 * The first layer of Release and ReleaseChannel validation: the CRD's own openAPIV3Schema
 * (crds.ts), with the RFC 3339 check its `format: date-time` asks for.
 */
import type { ErrorObject } from 'ajv';
import { crdSchema, type CrdKind } from './crds.ts';
import { compileSchema, type SchemaCheck } from '../util/schema.ts';
import type { FieldPath } from '../util/yaml-source.ts';

const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** RFC 3339 date-time (the `format: date-time` of the CRD), with real calendar ranges. */
export function isRfc3339(s: string): boolean {
  const m = RFC3339_RE.exec(s);
  if (!m) return false;
  const [year, month, day, hour, min, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (days === undefined || day < 1 || day > days || hour > 23 || min > 59 || sec > 60) return false;
  return m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
}

const checks = new Map<CrdKind, SchemaCheck>();

/** Every violation of the CRD schema of kind, each with its path; empty when obj matches. */
export function crdViolations(kind: CrdKind, obj: unknown): { path: FieldPath; message: string }[] {
  let check = checks.get(kind);
  if (!check) {
    check = compileSchema(crdSchema(kind), { 'date-time': { type: 'string', validate: isRfc3339 } });
    checks.set(kind, check);
  }
  return check(obj).map((v) => ({ path: v.path, message: `${message(v.error)} (CRD schema)` }));
}

function message(e: ErrorObject): string {
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues ?? [];
    return `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (e.keyword === 'format') return `must be an RFC3339 ${String((e.params as { format?: string }).format)} (e.g. 2025-06-01T12:00:00Z)`;
  return e.message ?? e.keyword;
}
