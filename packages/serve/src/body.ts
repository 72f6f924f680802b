import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

/**
 * The request body, whole or chunked, refused with 413 as soon as it passes `limit`. The
 * rest is read and dropped after the answer (bounded by the server's request timeout):
 * closing the connection on a client still sending would reset it before it reads the 413.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  // Events, not `for await`: the async iterator cost 3 % of the server's CPU per small POST.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      done();
      reject(tooLarge(limit));
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onClose = () => onError(new Error('the client closed the request before its body ended'));
    const done = () => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    `the body is larger than this server's limit of ${limit} bytes; split it into several appends`,
  );
}
