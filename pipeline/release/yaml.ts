/**
 * YAML in the shape Kubernetes tooling writes it (sigs.k8s.io/yaml: JSON → go-yaml v2): keys sorted
 * at every level, sequences not indented under their key, no line folding, and YAML 1.1 quoting so
 * strings such as "2020-12-01T00:05:35Z", "yes" or "3.10" stay strings for every reader.
 * Reading goes through util/yaml-source.ts.
 */
import { stringify } from 'yaml';

/** Deep copy with object keys sorted and undefined members dropped (arrays keep their order). */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function renderYaml(value: unknown): string {
  return stringify(sortKeys(value), {
    version: '1.1',
    indentSeq: false,
    sortMapEntries: true,
    lineWidth: 0,
    minContentWidth: 0,
  });
}
