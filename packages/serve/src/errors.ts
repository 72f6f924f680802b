import { isStreamError, StreamErrorCode } from '@walnut/streams';

/**
 * A refusal with the protocol's status code. The body is a one-line message saying what to
 * do; clients act on the status and headers (PROTOCOL.md 5.2: never on the body).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string) => new HttpError(400, message);
export const notFound = (path: string) =>
  new HttpError(404, `no stream at ${path}: create it with PUT first`);

/**
 * The protocol's answer to a refusal of the streams core. Errors that are not the
 * caller's (a broken log) are 503, so a client retries rather than gives up.
 */
export function fromStreamError(error: unknown, path: string): HttpError {
  if (error instanceof HttpError) return error;
  if (!isStreamError(error)) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'WAL_CLOSED') return new HttpError(503, 'the server is shutting down; retry');
    return new HttpError(500, `internal error: ${(error as Error)?.message ?? String(error)}`);
  }
  switch (error.code) {
    case StreamErrorCode.NOT_FOUND:
    case StreamErrorCode.EXPIRED:
      return notFound(path);
    case StreamErrorCode.BAD_NAME:
      return badRequest(`the stream path or producer id is not allowed: ${error.message}`);
    case StreamErrorCode.BAD_OFFSET:
      return badRequest(`bad offset: ${error.message}`);
    case StreamErrorCode.PAYLOAD_TOO_LARGE:
      return new HttpError(413, `the body is too large for one append: ${error.message}`);
    case StreamErrorCode.CONFLICT:
      return new HttpError(409, `stream ${path} exists with another configuration`);
    case StreamErrorCode.BROKEN:
      return new HttpError(503, 'the log failed a write; the server must be restarted');
    default:
      return new HttpError(500, error.message);
  }
}
