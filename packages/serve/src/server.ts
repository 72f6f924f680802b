import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Streams, type StreamsOptions } from '@walnut/streams';
import { createHandler, type DurableStreamsHandler, type HandlerOptions } from './handler.js';

export interface ServeOptions extends HandlerOptions {
  /** Interface to listen on (default 127.0.0.1: loopback unless told otherwise). */
  readonly host?: string | undefined;
  /** Port (default 0: a free one; `url` says which). */
  readonly port?: number | undefined;
  /** Options of the streams log (durability 'sync' by default: a POST is acknowledged once on disk). */
  readonly streams?: StreamsOptions | undefined;
  /** A client must send its request headers within this (default 10 s). */
  readonly headersTimeoutMs?: number | undefined;
  /** A connection idle this long is closed (default 120 s, above the longest live response). */
  readonly idleTimeoutMs?: number | undefined;
}

export interface DurableStreamsServer {
  /** `http://HOST:PORT`, no path: streams are under `${url}/v1/stream/`. */
  readonly url: string;
  readonly server: Server;
  readonly streams: Streams;
  readonly handler: DurableStreamsHandler;
  /**
   * Drains: stops accepting connections, ends live readers, lets requests in flight finish
   * (at most `timeoutMs`, default 10 s, then closes their connections), shuts the streams down.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Opens the streams log in `dir` and serves the Durable Streams protocol over it. */
export async function serve(
  dir: string,
  options: ServeOptions = {},
): Promise<DurableStreamsServer> {
  const streams = await Streams.open(dir, options.streams);
  const handler = createHandler(streams, options);
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: Math.max(headersTimeout, 60_000),
      keepAliveTimeout: 5_000,
      // Node looks for late headers every 30 s by default: a slow client would get 30 s.
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    },
    handler,
  );
  server.timeout = options.idleTimeoutMs ?? 120_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await streams.shutdown();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    server,
    streams,
    handler,
    close(timeoutMs = 10_000) {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        handler.close();
        // A connection whose last response just ended is idle only from then on.
        server.closeIdleConnections();
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          stopped,
          new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              server.closeAllConnections();
              resolve();
            }, timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        clearInterval(sweep);
        await streams.shutdown();
      })();
      return closing;
    },
  };
}
