/**
 * YAML files read with their positions, so that every message can name file, line, column and field
 * path. The one YAML reader: catalog files, base recipes, the pin file, config profiles, the CRDs and
 * the Release and ReleaseChannel manifests.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { LineCounter, parseAllDocuments, isMap, isSeq, isNode, type Document, type Node } from 'yaml';
import { EksdError, type ErrorCode } from '../errors.ts';

export type FieldPath = ReadonlyArray<string | number>;

export interface YamlSource {
  file: string;
  /** The file path as shown to users. */
  shown: string;
  /** The document's value; null for a file without one. */
  data: unknown;
  /** "file:line:col field.path", at the field's key; falls back to the nearest existing parent. */
  at(path: FieldPath): string;
  /** "file:line:col" of the value at path, or of its nearest existing parent; the file alone when there is none. */
  locate(path: FieldPath): string;
}

export interface YamlOptions {
  /** The file path as shown to users (default: the path itself). */
  shown?: string;
  /** The code of the error for a file that is not one valid YAML document (default YAML_SYNTAX). */
  code?: ErrorCode;
}

/** images[0].from; `empty` names the whole document. */
export function formatPath(path: FieldPath, empty = '(root)'): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || empty;
}

/** Reads and parses a file, shown relative to the working directory. */
export function readYaml(file: string): YamlSource {
  const shown = relative(process.cwd(), file) || file;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new EksdError('FILE_UNREADABLE', `cannot read ${shown}`, { where: shown, cause, hint: 'check that the file exists and is readable' });
  }
  return parseYaml(text, file, { shown });
}

/** Parses text holding at most one YAML document; a syntax error or a second document fails with options.code. */
export function parseYaml(text: string, file: string, options: YamlOptions = {}): YamlSource {
  const shown = options.shown ?? file;
  const code = options.code ?? 'YAML_SYNTAX';
  const lines = new LineCounter();
  const position = (offset: number): string => {
    const { line, col } = lines.linePos(offset);
    return `${shown}:${line}:${col}`;
  };
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const all = Array.isArray(docs) ? docs : [];
  const error = all.flatMap((d) => d.errors)[0];
  if (error) {
    throw new EksdError(code, `${shown} is not valid YAML: ${error.message.split('\n')[0]}`, {
      where: position(error.pos[0]), hint: 'fix the YAML syntax at that line',
    });
  }
  const filled = all.filter((d) => d.contents !== null);
  if (filled.length > 1) {
    throw new EksdError(code, `${shown} must hold one YAML document, found ${filled.length}`, {
      where: shown, hint: 'a file holds one object; split multi-document files',
    });
  }
  const doc = filled[0];
  return {
    file, shown,
    data: doc ? doc.toJS({ maxAliasCount: 100 }) : null,
    at: (path) => `${position(doc ? nearestNode(doc, path, 'key')?.range?.[0] ?? 0 : 0)} ${formatPath(path)}`,
    locate: (path) => {
      const offset = doc ? nearestNode(doc, path, 'value')?.range?.[0] : undefined;
      return offset === undefined ? shown : position(offset);
    },
  };
}

/**
 * The node at path, or at its nearest existing parent. For a field, `key` points at the key, so that
 * "unknown key" and "wrong type" both land on the field's line; `value` points at its value.
 */
function nearestNode(doc: Document, path: FieldPath, side: 'key' | 'value'): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    if (n === 0) return isNode(doc.contents) ? doc.contents : undefined;
    const parent = n > 1 ? doc.getIn(path.slice(0, n - 1), true) : doc.contents;
    const key = path[n - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (isNode(p.key) ? (p.key as { value?: unknown }).value === key : p.key === key));
      const node = side === 'key' ? pair?.key : pair?.value;
      if (isNode(node) && node.range) return node;
    } else if (isSeq(parent) && typeof key === 'number') {
      const item = parent.items[key];
      if (isNode(item) && item.range) return item;
    }
  }
  return undefined;
}
