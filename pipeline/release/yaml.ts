/**
 * YAML in the shape Kubernetes tooling writes it (sigs.k8s.io/yaml: JSON → go-yaml v2): keys sorted
 * at every level, sequences not indented under their key, no line folding, and YAML 1.1 quoting so
 * strings such as "2020-12-01T00:05:35Z", "yes" or "3.10" stay strings for every reader.
 * Parsing keeps positions so errors can name file:line:col.
 */
import { isNode, LineCounter, parseAllDocuments, stringify, type Document } from 'yaml';
import { EksdError, type ErrorCode } from '../errors.ts';

export type JsonPath = readonly (string | number)[];

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

export interface ParsedYaml {
  value: unknown;
  /** `source:line:col` of the node at path, or of its nearest existing parent. */
  locate(path: JsonPath): string;
}

export function parseYaml(text: string, source: string, code: ErrorCode): ParsedYaml {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true });
  const list = Array.isArray(docs) ? docs.filter((d) => d.contents !== null) : [];
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `${source}:${line}:${col}`;
  };
  for (const d of Array.isArray(docs) ? docs : []) {
    const err = d.errors[0];
    if (err) {
      throw new EksdError(code, `${source} is not valid YAML: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, {
        where: at(err.pos[0]), hint: 'fix the YAML syntax (or re-generate the file); it must be a single document',
      });
    }
  }
  if (list.length !== 1) {
    throw new EksdError(code, `${source} must hold exactly one YAML document, found ${list.length}`, {
      where: source, hint: 'a manifest file holds one object; split multi-document files',
    });
  }
  const doc: Document = list[0]!;
  return {
    value: doc.toJS({ maxAliasCount: 100 }),
    locate(path: JsonPath): string {
      for (let n = path.length; n >= 0; n--) {
        const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
        if ((isNode(node)) && node.range) return at(node.range[0]);
      }
      return source;
    },
  };
}
