import { pipeline, type Readable, type Transform } from 'node:stream';

/**
 * The stream read through `transform`, the two tied both ways: the source failing fails the transform
 * with its error, and the transform destroyed (a failed request) closes the source (a file, a GET).
 */
export function through<T extends Transform>(stream: Readable, transform: T, onError: (e: Error) => void = () => undefined): T {
  pipeline(stream, transform, (e) => { if (e) onError(e); });
  return transform;
}
