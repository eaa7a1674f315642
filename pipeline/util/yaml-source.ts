/**
 * YAML files read with their positions, so that every validation message can name file, line, column and
 * field path. One loader for catalog files, base recipes, the pin file and config profiles.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isNode, type Document, type Node } from 'yaml';
import { EksdError } from '../errors.ts';

export type FieldPath = ReadonlyArray<string | number>;

export interface YamlSource {
  file: string;
  /** The file path as shown to users (relative to the working directory). */
  shown: string;
  data: unknown;
  /** "file:line:col field.path" for a path into the document; falls back to the nearest existing parent. */
  at(path: FieldPath): string;
}

/** images[0].from; `empty` names the whole document. */
export function formatPath(path: FieldPath, empty = '(root)'): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || empty;
}

export function readYaml(file: string): YamlSource {
  const shown = relative(process.cwd(), file) || file;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new EksdError('FILE_UNREADABLE', `cannot read ${shown}`, { where: shown, cause, hint: 'check that the file exists and is readable' });
  }
  return parseYaml(text, file, shown);
}

export function parseYaml(text: string, file: string, shown = file): YamlSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    throw new EksdError('YAML_SYNTAX', `${first.message.split('\n')[0]}`, {
      where: `${shown}:${pos.line}:${pos.col}`, hint: 'fix the YAML syntax at that line',
    });
  }
  const at = (path: FieldPath): string => {
    const node = nearestNode(doc, path);
    const offset = node?.range?.[0] ?? 0;
    const pos = lines.linePos(offset);
    return `${shown}:${pos.line}:${pos.col} ${formatPath(path)}`;
  };
  return { file, shown, data: doc.toJS(), at };
}

function nearestNode(doc: Document, path: FieldPath): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const prefix = path.slice(0, n);
    if (prefix.length === 0) return isNode(doc.contents) ? doc.contents : undefined;
    const parent = prefix.length > 1 ? doc.getIn(prefix.slice(0, -1), true) : doc.contents;
    const key = prefix[prefix.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isNode(p.key) ? (p.key as { value?: unknown }).value === key : p.key === key);
      // Point at the key for a field, so "unknown key" and "wrong type" both land on the right line.
      if (pair && isNode(pair.key)) return pair.key;
    } else if (isSeq(parent) && typeof key === 'number') {
      const item = parent.items[key];
      if (isNode(item)) return item;
    }
  }
  return undefined;
}
