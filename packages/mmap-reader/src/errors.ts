import { WalError, WalErrorCode } from '@walnut/codec';

/** Wraps a failed system call (from node:fs or the addon) as WAL_IO, keeping errno and syscall. */
export function ioError(error: unknown, path: string, doing: string): WalError {
  if (error instanceof WalError) return error;
  const e = error as { errno?: number; syscall?: string; code?: string; message?: string };
  const errno = typeof e.errno === 'number' ? Math.abs(e.errno) : undefined;
  const missing = e.code === 'ENOENT' || errno === 2;
  const advice = missing
    ? 'check the path; sealed segments are only removed by truncateBefore'
    : 'check permissions and the file system';
  return new WalError(
    WalErrorCode.IO,
    `cannot ${doing} ${path}: ${e.message ?? String(error)}; ${advice}`,
    {
      cause: error,
      details: {
        segment: path,
        ...(errno === undefined ? {} : { errno }),
        ...(e.syscall === undefined ? {} : { syscall: e.syscall }),
      },
    },
  );
}
