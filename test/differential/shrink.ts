/**
 * Shrinks a case that differs to a small case that still differs: drops Dockerfile lines, context
 * entries, parent files, parent config fields and build args one at a time, keeping each removal
 * after which the difference remains, until none can go (or the budget of builds is spent).
 */
import type { Case } from './case.ts';

const BUDGET = 120;

export async function shrink(c: Case, differs: (c: Case) => Promise<boolean>): Promise<Case> {
  let best = c;
  let tries = 0;
  for (let progress = true; progress && tries < BUDGET;) {
    progress = false;
    for (const candidate of smaller(best)) {
      if (++tries > BUDGET) break;
      if (await differs(candidate)) { best = candidate; progress = true; break; }
    }
  }
  return { ...best, id: `${c.id} (shrunk)` };
}

function* smaller(c: Case): Generator<Case> {
  const lines = c.dockerfile.split('\n').filter((l) => l !== '');
  for (let i = 0; i < lines.length; i++) {
    if (/^FROM\b/i.test(lines[i]!)) continue;
    yield { ...c, dockerfile: `${lines.filter((_, j) => j !== i).join('\n')}\n` };
  }
  for (let i = 0; i < c.context.length; i++) {
    const gone = c.context[i]!.path;
    yield { ...c, context: c.context.filter((e) => e.path !== gone && !e.path.startsWith(`${gone}/`)) };
  }
  for (const k of Object.keys(c.buildArgs)) {
    yield { ...c, buildArgs: Object.fromEntries(Object.entries(c.buildArgs).filter(([x]) => x !== k)) };
  }
  if (!c.parent) return;
  for (const k of Object.keys(c.parent.config)) {
    yield { ...c, parent: { ...c.parent, config: Object.fromEntries(Object.entries(c.parent.config).filter(([x]) => x !== k)) } };
  }
  for (let i = 0; i < c.parent.entries.length; i++) {
    const gone = c.parent.entries[i]!.path;
    if (['etc', 'etc/passwd', 'etc/group'].includes(gone)) continue;
    yield { ...c, parent: { ...c.parent, entries: c.parent.entries.filter((e) => e.path !== gone && !e.path.startsWith(`${gone}/`)) } };
  }
}
