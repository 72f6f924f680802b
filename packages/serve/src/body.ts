import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

/**
 * The request body, whole or chunked, refused with 413 as soon as it passes `limit`. The
 * rest is read and dropped after the answer (bounded by the server's request timeout):
 * closing the connection on a client still sending would reset it before it reads the 413.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    `the body is larger than this server's limit of ${limit} bytes; split it into several appends`,
  );
}
