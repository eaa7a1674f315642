/**
 * Where artifacts come from: `artifacts.baseUrl`, which may carry a user and password
 * (`https://user:password@artifacts.example.com/eks-d`). fetch refuses a URL with credentials, and a URL
 * with them must never be printed: the credentials are taken out of the URL once, sent as an
 * `Authorization: Basic` header with each download (fetch drops it on a redirect to another origin),
 * and registered as secrets so that no log line, error or file shows them. Everything else sees the
 * URL without them.
 */
import { registerSecret } from '../errors.ts';

export interface ArtifactSource {
  /** The base URL without credentials: the one used in messages and to make artifact URLs. */
  baseUrl: string;
  /** Headers for each download: `authorization` when the configured URL carried credentials. */
  headers: Record<string, string>;
}

export function artifactSource(configured: string): ArtifactSource {
  if (configured.startsWith('file:')) return { baseUrl: configured, headers: {} };
  const url = new URL(configured);
  if (!url.username && !url.password) return { baseUrl: configured, headers: {} };
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const token = Buffer.from(`${user}:${password}`).toString('base64');
  registerSecret(password);
  registerSecret(url.password);
  registerSecret(token);
  url.username = '';
  url.password = '';
  return { baseUrl: url.href.replace(/\/+$/, ''), headers: { authorization: `Basic ${token}` } };
}
