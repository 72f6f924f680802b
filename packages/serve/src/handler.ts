import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Streams } from '@walnut/streams';
import { create } from './create.js';
import { fromStreamError, HttpError } from './errors.js';
import { get, head } from './read.js';
import { checkName, Registry } from './registry.js';
import { Waiters } from './waiters.js';
import { append, remove } from './write.js';

export interface HandlerOptions {
  /** The URL path streams live under (default `/v1/stream/`). */
  readonly prefix?: string | undefined;
  /** Largest request body, in bytes (default 8 MiB); a larger one is 413. */
  readonly maxBodyBytes?: number | undefined;
  /** Most payload bytes one read returns (default 1 MiB); the client reads on from there. */
  readonly maxChunkBytes?: number | undefined;
  /** How long a long-poll waits for data before 204 (default 20 s). */
  readonly longPollTimeoutMs?: number | undefined;
  /** How long an SSE response lasts before the server ends it (default 60 s; PROTOCOL.md 10.2). */
  readonly sseMaxMs?: number | undefined;
  /** Most long-poll and SSE readers waiting at once (default 10,000); more are 503. */
  readonly maxLiveReaders?: number | undefined;
  /** `Access-Control-Allow-Origin` (default `*`: streams are read with fetch from pages). */
  readonly allowOrigin?: string | undefined;
  /** The clock for TTLs and cursors (default `Date.now`). */
  readonly now?: (() => number) | undefined;
}

/** A request handler for `node:http`, with `close()` to end its live readers. */
export interface DurableStreamsHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Ends every long-poll and SSE response now; later ones are 503. */
  close(): void;
  /** Live readers waiting now. */
  readonly liveReaders: number;
}

const EXPOSED = [
  'stream-next-offset',
  'stream-cursor',
  'stream-up-to-date',
  'stream-closed',
  'stream-ttl',
  'stream-expires-at',
  'stream-sse-data-encoding',
  'producer-epoch',
  'producer-seq',
  'producer-expected-seq',
  'producer-received-seq',
  'etag',
  'location',
].join(', ');

const ALLOWED = [
  'content-type',
  'if-none-match',
  'stream-seq',
  'stream-ttl',
  'stream-expires-at',
  'stream-closed',
  'producer-id',
  'producer-epoch',
  'producer-seq',
  'authorization',
].join(', ');

/**
 * The Durable Streams protocol (PROTOCOL.md 1.0) over `streams`: mount it on your own
 * `node:http` server. Paths outside `prefix` are 404. The handler does not own `streams`:
 * shut them down yourself after the server has stopped.
 */
export function createHandler(
  streams: Streams,
  options: HandlerOptions = {},
): DurableStreamsHandler {
  const prefix = options.prefix ?? '/v1/stream/';
  const now = options.now ?? Date.now;
  const registry = new Registry(streams, now);
  const waiters = new Waiters(options.maxLiveReaders ?? 10_000);
  const common: Record<string, string> = {
    'x-content-type-options': 'nosniff',
    'cross-origin-resource-policy': 'cross-origin',
    'access-control-allow-origin': options.allowOrigin ?? '*',
    'access-control-expose-headers': EXPOSED,
  };
  const writes = {
    registry,
    prefix,
    maxBodyBytes: options.maxBodyBytes ?? 8 * 1024 * 1024,
    notify: (name: string) => waiters.notify(name),
  };
  const reads = {
    registry,
    waiters,
    maxChunkBytes: options.maxChunkBytes ?? 1024 * 1024,
    longPollTimeoutMs: options.longPollTimeoutMs ?? 20_000,
    sseMaxMs: options.sseMaxMs ?? 60_000,
    now,
  };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith(prefix)) {
      throw new HttpError(404, `streams are served under ${prefix}`);
    }
    const path = url.pathname;
    let name: string;
    try {
      name = decodeURIComponent(path.slice(prefix.length));
    } catch {
      throw new HttpError(400, 'the stream path is not valid percent-encoded UTF-8');
    }
    if (name === '') throw new HttpError(404, `name a stream: ${prefix}NAME`);
    checkName(name);
    switch (req.method) {
      case 'OPTIONS':
        res
          .writeHead(204, {
            ...common,
            'access-control-allow-methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
            'access-control-allow-headers': ALLOWED,
            'access-control-max-age': '86400',
          })
          .end();
        return;
      case 'PUT':
        return reply(res, await create(writes, req, name, path), common);
      case 'POST':
        return reply(res, await append(writes, req, name, path), common);
      case 'DELETE':
        return reply(res, await remove(writes, name, path), common);
      case 'HEAD':
        return reply(res, await head(reads, name, path), common);
      case 'GET':
        return get(reads, req, res, url, name, path, common);
      default:
        throw new HttpError(405, `method ${req.method} is not part of the protocol`, {
          allow: 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
        });
    }
  }

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    serve(req, res).catch((error: unknown) => {
      const refusal = fromStreamError(error, req.url ?? '');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const headers = { ...common, ...refusal.headers };
      if (refusal.status < 300) {
        res.writeHead(refusal.status, headers).end();
        return;
      }
      res
        .writeHead(refusal.status, { ...headers, 'content-type': 'text/plain; charset=utf-8' })
        .end(req.method === 'HEAD' ? undefined : `${refusal.message}\n`);
      // An unread body (a 413, or a refusal before reading) is not drained: the answer ends it.
      if (!req.complete) req.resume();
    });
  }) as DurableStreamsHandler;
  handler.close = () => waiters.close();
  Object.defineProperty(handler, 'liveReaders', { get: () => waiters.size });
  return handler;
}

function reply(
  res: ServerResponse,
  { status, headers }: { status: number; headers: Record<string, string> },
  common: Record<string, string>,
): void {
  res.writeHead(status, { ...common, ...headers }).end();
}
