/** A parsed WWW-Authenticate challenge. */
export interface Challenge {
  scheme: 'basic' | 'bearer' | string;
  params: Record<string, string>;
}

/**
 * Parses the first challenge of a WWW-Authenticate header:
 * `Bearer realm="https://auth/token",service="reg",scope="repository:a:pull,push"`.
 */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/g;
  const rest = m[2] ?? '';
  for (let p = re.exec(rest); p; p = re.exec(rest)) {
    const key = p[1];
    if (key === undefined) continue;
    if (key.toLowerCase() in params) break; // a second challenge starts here
    params[key.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
    if (p[0] === '') break;
  }
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}
