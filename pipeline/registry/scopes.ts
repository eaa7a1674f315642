/** Repository access a request needs: repository name -> actions ("pull", "push", "delete", "*"). */
export type ScopeSet = Map<string, Set<string>>;

/** Scopes for one repository. */
export function scopeFor(repository: string, ...actions: string[]): ScopeSet {
  return new Map([[repository, new Set(actions)]]);
}

/** Scopes for a cross-repository mount: push,pull on the target, pull on the source. */
export function mountScope(target: string, source: string): ScopeSet {
  const s = scopeFor(target, 'push', 'pull');
  if (source !== target) s.set(source, new Set(['pull']));
  return s;
}

/** Parses "repository:a/b:pull,push repository:c:pull" (other resource types are ignored). */
export function parseScopes(text: string): ScopeSet {
  const out: ScopeSet = new Map();
  for (const item of text.split(/\s+/).filter(Boolean)) {
    const first = item.indexOf(':');
    const last = item.lastIndexOf(':');
    if (first < 0 || last === first || item.slice(0, first) !== 'repository') continue;
    const name = item.slice(first + 1, last);
    const set = out.get(name) ?? new Set<string>();
    for (const a of item.slice(last + 1).split(',').filter(Boolean)) set.add(a);
    out.set(name, set);
  }
  return out;
}

/** A stable key for a scope set: sorted repositories, sorted actions. */
export function scopeKey(scopes: ScopeSet): string {
  return [...scopes.entries()].sort(([a], [b]) => a.localeCompare(b))
    .map(([name, actions]) => `repository:${name}:${[...actions].sort().join(',')}`).join(' ');
}

/** True when `granted` includes every action of every repository in `needed`. */
export function covers(granted: ScopeSet, needed: ScopeSet): boolean {
  for (const [name, actions] of needed) {
    const have = granted.get(name);
    if (!have) return false;
    if (have.has('*')) continue;
    for (const a of actions) if (!have.has(a)) return false;
  }
  return true;
}
