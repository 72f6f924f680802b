import { constants as osConstants } from 'node:os';
import { WalError, WalErrorCode } from '@walnut/codec';

/** Positive errno numbers the backends produce themselves (Linux values). */
export const Errno = {
  EBADF: osConstants.errno.EBADF,
  EIO: osConstants.errno.EIO,
  ENOENT: osConstants.errno.ENOENT,
  EEXIST: osConstants.errno.EEXIST,
  EINVAL: osConstants.errno.EINVAL,
  ENOSPC: osConstants.errno.ENOSPC,
  EDQUOT: osConstants.errno.EDQUOT,
  ENOTDIR: osConstants.errno.ENOTDIR,
  EISDIR: osConstants.errno.EISDIR,
  ENOTEMPTY: osConstants.errno.ENOTEMPTY,
  EOPNOTSUPP: osConstants.errno.EOPNOTSUPP,
  ECANCELED: osConstants.errno.ECANCELED,
  EAGAIN: osConstants.errno.EAGAIN,
  EWOULDBLOCK: osConstants.errno.EWOULDBLOCK,
  EBUSY: osConstants.errno.EBUSY,
} as const;

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}

/** The symbolic name of an errno (`5` or `-5` → `EIO`). */
export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `errno ${Math.abs(errno)}`;
}

function adviceFor(errno: number): string {
  switch (errno) {
    case Errno.ENOSPC:
    case Errno.EDQUOT:
      return 'the disk (or quota) is full: free space, then retry';
    case Errno.EIO:
      return 'the device reported an I/O error: check the disk and the kernel log (dmesg); data written since the last successful sync may be lost';
    case Errno.ENOENT:
      return 'the path does not exist: check it, or create it first';
    case Errno.EBADF:
      return 'the file descriptor is not open (or not open for this access): open the file through the same StorageIo first';
    case Errno.ECANCELED:
      return 'the operation was cancelled because the operation it was linked to failed';
    case Errno.EOPNOTSUPP:
      return 'the backend or file system does not support this operation';
    default:
      return 'check the path, its permissions and the file system';
  }
}

/**
 * The `WalError` for a failed system call: ENOSPC/EDQUOT → `WAL_NO_SPACE`, everything
 * else → `WAL_IO`. Accepts `errno` or `-errno`; `details.errno` is always positive.
 */
export function ioErrorFromErrno(
  errno: number,
  syscall: string,
  path?: string,
  cause?: unknown,
): WalError {
  const positive = Math.abs(errno);
  const name = errnoName(positive);
  const code =
    positive === Errno.ENOSPC || positive === Errno.EDQUOT
      ? WalErrorCode.NO_SPACE
      : WalErrorCode.IO;
  const where = path === undefined ? '' : ` on ${path}`;
  const details =
    path === undefined ? { errno: positive, syscall } : { errno: positive, syscall, path };
  return new WalError(code, `${syscall} failed with ${name}${where}: ${adviceFor(positive)}`, {
    details,
    cause,
  });
}

/** Maps an error thrown by node:fs (which carries a negative `errno`) to a WalError. */
export function ioErrorFromNode(error: unknown, syscall: string, path?: string): WalError {
  if (error instanceof WalError) return error;
  const errno = (error as { errno?: unknown }).errno;
  if (typeof errno === 'number') return ioErrorFromErrno(errno, syscall, path, error);
  // node:fs rejects a wrong argument (an fd that is not a number, say) before any syscall:
  // the caller's mistake, not the disk's.
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_INVALID_ARG_TYPE' || code === 'ERR_OUT_OF_RANGE') {
    return new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `${syscall}${path ? ` on ${path}` : ''} was called with a bad argument: ${(error as Error).message}`,
      { details: { syscall }, cause: error },
    );
  }
  return new WalError(
    WalErrorCode.IO,
    `${syscall} failed${path ? ` on ${path}` : ''}: ${String(error)}`,
    {
      details: { syscall },
      cause: error,
    },
  );
}

/** The `-errno` a completion carries for an error thrown by node:fs. */
export function resultFromNodeError(error: unknown): number {
  const errno = (error as { errno?: unknown }).errno;
  return typeof errno === 'number' ? -Math.abs(errno) : -Errno.EIO;
}

export function closedError(name: string): WalError {
  return new WalError(
    WalErrorCode.CLOSED,
    `this ${name} StorageIo was closed (closeIo): create a new instance to do more I/O`,
  );
}

/** Who holds a lock, as far as the refused opener can tell. */
export interface LockHolder {
  /** The holder is this very process: another opener of the same directory. */
  readonly self: boolean;
  /** The holder's pid, when known. */
  readonly pid?: number;
  /** Set when the holder may be gone but that cannot be proven from here: why not. */
  readonly unprovable?: string;
}

export function lockedError(path: string, holder: LockHolder): WalError {
  const who = holder.self
    ? `this process (pid ${process.pid})`
    : holder.pid === undefined
      ? 'another process'
      : `process ${holder.pid}`;
  const todo = holder.self
    ? 'close the other writer of this directory in this process first (its Wal, SegmentedWal or PerCoreWalManager), or open this one read-only'
    : `stop ${who}, or open this one read-only`;
  const doubt = holder.unprovable ? ` (it may have ended, but ${holder.unprovable})` : '';
  return new WalError(
    WalErrorCode.LOCKED,
    `${path} is locked by ${who}${doubt}: only one writer may own a log directory at a time; ${todo}`,
    {
      details: {
        path,
        holderPid: holder.self ? process.pid : holder.pid,
        holderIsThisProcess: holder.self,
      },
    },
  );
}
