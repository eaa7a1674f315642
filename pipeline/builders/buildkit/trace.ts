/**
 * Decodes the BuildKit status stream that dockerd sends during a `version: '2'` build
 * (moby.buildkit.trace aux messages, protobuf StatusResponse) into step and log events.
 */
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

interface Vertex { digest?: string; name?: string; cached?: boolean; started?: unknown; completed?: unknown; error?: string }
interface VertexLog { vertex?: string; stream?: string; msg?: Uint8Array }
interface StatusResponse { vertexes?: Vertex[]; logs?: VertexLog[] }

let statusType: protobuf.Type | undefined;
function decoder(): protobuf.Type {
  statusType ??= protobuf.loadSync(require.resolve('dockerode/lib/proto/buildkit_status.proto')).lookupType('moby.buildkit.v1.StatusResponse');
  return statusType;
}

export type TraceEvent =
  | { kind: 'step'; state: 'started' | 'done' | 'cached'; name: string }
  | { kind: 'log'; step: string; text: string; stderr: boolean }
  | { kind: 'error'; step: string; message: string };

/** Tracks vertex state across messages so each step is reported once per state. */
export class TraceDecoder {
  private readonly names = new Map<string, string>();
  private readonly reported = new Set<string>();

  decode(aux: string): TraceEvent[] {
    const t = decoder();
    const status = t.toObject(t.decode(Buffer.from(aux, 'base64')), { longs: String, defaults: false }) as StatusResponse;
    const events: TraceEvent[] = [];
    for (const v of status.vertexes ?? []) {
      const id = v.digest ?? '';
      const name = v.name ?? this.names.get(id) ?? id;
      this.names.set(id, name);
      const state = v.error ? undefined : v.cached ? 'cached' : v.completed ? 'done' : v.started ? 'started' : undefined;
      if (v.error) events.push({ kind: 'error', step: name, message: v.error });
      if (state && !this.reported.has(`${id}:${state}`)) {
        this.reported.add(`${id}:${state}`);
        events.push({ kind: 'step', state, name });
      }
    }
    for (const l of status.logs ?? []) {
      const text = Buffer.from(l.msg ?? new Uint8Array()).toString('utf8');
      events.push({ kind: 'log', step: this.names.get(l.vertex ?? '') ?? '', text, stderr: l.stream === '2' });
    }
    return events;
  }
}
