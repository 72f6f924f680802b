import { constants } from 'node:os';
import { WalError, WalErrorCode } from './errors.js';

// The one mapping from a failed system call to a WalError, for every package: storage-io's
// backends (which see errno numbers from the kernel and from node:fs), and the readers that
// open files themselves (mmap-reader, the CLI).

/**
 * The positive errno numbers Walnut names, as this platform numbers them: the one table every
 * package compares against (Linux and macOS disagree on EDQUOT, ECANCELED, EOPNOTSUPP and
 * more, so a literal is a bug on one of them). Completions carry `-errno`.
 */
export const Errno = {
  EACCES: constants.errno.EACCES,
  EAGAIN: constants.errno.EAGAIN,
  EBADF: constants.errno.EBADF,
  EBUSY: constants.errno.EBUSY,
  ECANCELED: constants.errno.ECANCELED,
  EDQUOT: constants.errno.EDQUOT,
  EEXIST: constants.errno.EEXIST,
  EINVAL: constants.errno.EINVAL,
  EIO: constants.errno.EIO,
  EISDIR: constants.errno.EISDIR,
  EMFILE: constants.errno.EMFILE,
  ENFILE: constants.errno.ENFILE,
  ENOENT: constants.errno.ENOENT,
  ENOSPC: constants.errno.ENOSPC,
  ENOTDIR: constants.errno.ENOTDIR,
  ENOTEMPTY: constants.errno.ENOTEMPTY,
  EOPNOTSUPP: constants.errno.EOPNOTSUPP,
  EPERM: constants.errno.EPERM,
  EROFS: constants.errno.EROFS,
  EWOULDBLOCK: constants.errno.EWOULDBLOCK,
} as const;

const { EBADF, ECANCELED, EDQUOT, EIO, EMFILE, ENFILE, ENOENT, ENOSPC, EOPNOTSUPP } = Errno;

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}

/**
 * Whether a node:fs error says the path does not exist (ENOENT): the one test of it, for the
 * many places where a missing file is an answer rather than a failure.
 */
export function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ENOENT';
}

/** The symbolic name of an errno (`5` or `-5` → `EIO`). */
export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `errno ${Math.abs(errno)}`;
}

function adviceFor(errno: number): string {
  switch (errno) {
    case ENOSPC:
    case EDQUOT:
      return 'the disk (or quota) is full: free space, then retry';
    case EIO:
      return 'the device reported an I/O error: check the disk and the kernel log (dmesg); data written since the last successful sync may be lost';
    case ENOENT:
      return 'check the path, or create it first';
    case EBADF:
      return 'the file descriptor is not open (or not open for this access): open the file through the same StorageIo first';
    case ECANCELED:
      return 'the operation was cancelled because the operation it was linked to failed';
    case EOPNOTSUPP:
      return 'the backend or file system does not support this operation';
    case EMFILE:
      return 'this process has as many files open as its limit allows: raise it (ulimit -n, LimitNOFILE), or open fewer logs, cores or readers at once, then retry';
    case ENFILE:
      return 'the system has as many files open as it allows (fs.file-max): close files elsewhere or raise the limit, then retry';
    default:
      return 'check the path, its permissions and the file system';
  }
}

/**
 * The `WalError` for a failed system call: ENOSPC/EDQUOT → `WAL_NO_SPACE`, everything
 * else → `WAL_IO`. Accepts `errno` or `-errno`; `details.errno` is always positive. The
 * message names the call, the errno and the path, and ends with what to do.
 */
export function ioErrorFromErrno(
  errno: number,
  syscall: string,
  path?: string,
  cause?: unknown,
): WalError {
  const positive = Math.abs(errno);
  const name = errnoName(positive);
  const code = positive === ENOSPC || positive === EDQUOT ? WalErrorCode.NO_SPACE : WalErrorCode.IO;
  const what =
    positive === ENOENT && path !== undefined
      ? `${path} does not exist (${syscall} failed with ENOENT)`
      : `${syscall} failed with ${name}${path === undefined ? '' : ` on ${path}`}`;
  const details =
    path === undefined ? { errno: positive, syscall } : { errno: positive, syscall, path };
  return new WalError(code, `${what}: ${adviceFor(positive)}`, { details, cause });
}

/**
 * Maps an error thrown by node:fs (or by an addon that throws like it, with a negative or
 * positive `errno`) to a WalError; a WalError passes through unchanged.
 */
export function ioErrorFromNode(error: unknown, syscall: string, path?: string): WalError {
  if (error instanceof WalError) return error;
  const code = (error as { code?: unknown }).code;
  // The name first: on Windows node:fs's errno is libuv's (ENOENT is -4058), not the
  // os.constants.errno one (2) the table knows; Deno's node:fs gives the name alone.
  const named =
    typeof code === 'string' ? constants.errno[code as keyof typeof constants.errno] : undefined;
  if (typeof named === 'number') return ioErrorFromErrno(named, syscall, path, error);
  const errno = (error as { errno?: unknown }).errno;
  if (typeof errno === 'number') return ioErrorFromErrno(errno, syscall, path, error);
  // node:fs rejects a wrong argument (an fd that is not a number, say) before any syscall:
  // the caller's mistake, not the disk's.
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
    { details: { syscall }, cause: error },
  );
}
