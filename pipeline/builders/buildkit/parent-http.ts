/** The parents' endpoint's answers as an OCI distribution registry gives them: the API header, a body, an error body. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const API_HEADER = { 'docker-distribution-api-version': 'registry/2.0' };

/** The body to a GET, none to a HEAD; the length either way. */
export function answer(res: ServerResponse, req: IncomingMessage, status: number, headers: Record<string, string>, body: Buffer): void {
  res.writeHead(status, { ...API_HEADER, ...headers, 'content-length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** A registry error body: `{"errors":[{"code","message"}]}`. */
export function answerError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = Buffer.from(JSON.stringify({ errors: [{ code, message }] }));
  res.writeHead(status, { ...API_HEADER, 'content-type': 'application/json', 'content-length': String(body.length) });
  res.end(body);
}
