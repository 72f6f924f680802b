import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isWalError, type Wal } from '@walnut/wal';

export interface IngestServerOptions {
  /** Largest request body accepted (413 beyond). Default 1 MiB. */
  readonly maxBodyBytes?: number;
}

/**
 * An HTTP front for a Wal: `POST /records` appends the request body and answers
 * `201 {"lsn":"…"}` only once that record is durable; `GET /stats` shows the Wal's
 * counters, among them how many records each fsync made durable (group commit: many
 * concurrent requests share one fsync).
 */
export function createIngestServer(wal: Wal, options: IngestServerOptions = {}): Server {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  return createServer((req, res) => {
    handle(wal, maxBodyBytes, req, res).catch((error) => reply(res, 500, { error: String(error) }));
  });
}

async function handle(
  wal: Wal,
  maxBodyBytes: number,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method === 'POST' && req.url === '/records') {
    const body = await readBody(req, maxBodyBytes);
    if (body === null) return reply(res, 413, { error: `body larger than ${maxBodyBytes} bytes` });
    try {
      const lsn = await wal.append(body);
      return reply(res, 201, { lsn: lsn.toString() });
    } catch (error) {
      // The record was not acknowledged; the client may retry. The code says why.
      if (isWalError(error)) return reply(res, 503, { error: error.code, message: error.message });
      throw error;
    }
  }
  if (req.method === 'GET' && req.url === '/stats') {
    const s = wal.stats();
    return reply(res, 200, {
      records: s.records,
      syncs: s.syncs,
      recordsPerSync: Number(s.recordsPerSync.toFixed(2)),
      durableLsn: s.durableLsn.toString(),
      commitLatencyMicros: s.commitLatencyMicros,
      backend: s.backend,
    });
  }
  reply(res, 404, { error: 'POST /records or GET /stats' });
}

/** The whole body, or null once it exceeds `max` (the rest is drained, not buffered). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > max ? null : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
