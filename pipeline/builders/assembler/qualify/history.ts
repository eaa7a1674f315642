/** The history text ("created_by") BuildKit 0.8 writes for a metadata instruction, Go's quoting included. */
import type { Instruction } from 'dockerfile-ast';
import type { ConfigChange } from '../recipe.ts';

export function createdBy(keyword: string, change: ConfigChange, i: Instruction): string {
  if ('expose' in change) return `EXPOSE map[${change.expose.map((p) => `${p}:{}`).join(' ')}]`;
  if ('entrypoint' in change) return `ENTRYPOINT ${goQuoted(change.entrypoint)}`;
  if ('cmd' in change) return `CMD ${goQuoted(change.cmd)}`;
  if ('env' in change) return `ENV ${change.env.map(([k, v]) => `${k}=${v}`).join(' ')}`;
  if ('labels' in change) return `LABEL ${change.labels.map(([k, v]) => `${k}=${v}`).join(' ')}`;
  if ('user' in change) return `USER ${change.user}`;
  if ('stopSignal' in change) return `STOPSIGNAL ${change.stopSignal}`;
  if ('arg' in change) return `ARG ${change.arg}`;
  return `${keyword} ${i.getArgumentsContent() ?? ''}`;
}

/** A list of strings as Go's %q prints a []string: `["/bin/x" "a b"]`. */
function goQuoted(list: string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}

const GO_ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '"': '\\"', '\\': '\\\\' };

/** strconv.Quote: printable characters as they are, the rest escaped. */
function goQuote(s: string): string {
  let out = '';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (GO_ESCAPES[ch]) out += GO_ESCAPES[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (!/\p{L}|\p{M}|\p{N}|\p{P}|\p{S}|\u0020/u.test(ch)) out += code > 0xffff ? `\\U${code.toString(16).padStart(8, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `"${out}"`;
}
