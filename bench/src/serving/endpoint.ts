/**
 * W6's unrelated work: a small HTTP endpoint in the process under test, listening on
 * 127.0.0.1 only (port 0: whatever is free), answering every request with a few bytes of
 * JSON. Its answers can only be as prompt as the event loop that runs it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const LOOPBACK = '127.0.0.1';

export interface Endpoint {
  readonly url: string;
  /** Requests answered so far. */
  answered(): number;
  close(): Promise<void>;
}

export async function startEndpoint(): Promise<Endpoint> {
  let answered = 0;
  const server: Server = createServer((_request, response) => {
    answered++;
    const body = JSON.stringify({ ok: true, answered });
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${LOOPBACK}:${port}/`,
    answered: () => answered,
    close: () =>
      new Promise<void>((resolve) => {
        // Keep-alive connections would hold close() open until they time out.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
