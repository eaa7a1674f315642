/** An HTTP server on 127.0.0.1 at a free port, for the AWS stand-ins: started, and stopped with its connections. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackServer { endpoint: string; stop(): Promise<void> }

export async function startLoopback(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<LoopbackServer> {
  const server: Server = createServer((req, res) => { void handle(req, res); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A stand-in service: `start` listens on loopback and returns the endpoint, `stop` closes it. */
export abstract class LoopbackStandIn {
  endpoint = '';
  private server: LoopbackServer | undefined;

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  async start(): Promise<string> {
    this.server = await startLoopback((req, res) => this.handle(req, res));
    this.endpoint = this.server.endpoint;
    return this.endpoint;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await s?.stop();
  }
}
