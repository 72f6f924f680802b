import { constants as osConstants } from 'node:os';
import { Errno, WalError, WalErrorCode } from '@walnut/codec';

// The errno table and the mapping of a failed call to a WalError are the codec's, shared with the packages that
// open files without a StorageIo; storage-io's own modules import it from here.
export { Errno, errnoName, ioErrorFromErrno, ioErrorFromNode } from '@walnut/codec';

/**
 * The positive errno of an error thrown by node:fs, or of a WalError that names one (a check
 * of our own, such as an O_DIRECT this platform lacks); undefined for anything else.
 */
export function errnoOf(error: unknown): number | undefined {
  if (error instanceof WalError) {
    const errno = error.details.errno;
    return typeof errno === 'number' ? Math.abs(errno) : undefined;
  }
  // The name first: on Windows node:fs's errno is libuv's (EBADF is -4083), not the
  // os.constants.errno one (9) the table knows; Deno's node:fs gives the name alone.
  const code = (error as { code?: unknown } | null)?.code;
  const named =
    typeof code === 'string'
      ? osConstants.errno[code as keyof typeof osConstants.errno]
      : undefined;
  if (typeof named === 'number') return named;
  const errno = (error as { errno?: unknown } | null)?.errno;
  return typeof errno === 'number' ? Math.abs(errno) : undefined;
}

/** The `-errno` a completion carries for an error thrown while executing an operation. */
export function resultFromNodeError(error: unknown): number {
  return -(errnoOf(error) ?? Errno.EIO);
}

export function closedError(name: string): WalError {
  return WalError.closed(`this ${name} StorageIo`, 'create a new instance to do more I/O', {
    why: 'closeIo was called',
  });
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

export function lockedError(path: string, holder: LockHolder, note = ''): WalError {
  const details: LockedDetails = {
    path,
    holderPid: holder.self ? process.pid : holder.pid,
    holderIsThisProcess: holder.self,
  };
  if (holder.unprovable) details.holderMayHaveEnded = holder.unprovable;
  if (note) details.note = note;
  const { who, doubt, noteClause } = lockHolderOf(details);
  const todo = holder.self
    ? 'close the other writer of this directory in this process first (its Wal, SegmentedWal or PerCoreWalManager), or open this one read-only'
    : `stop ${who}, or open this one read-only`;
  return new WalError(
    WalErrorCode.LOCKED,
    `${path} is locked by ${who}${doubt}: only one writer may own a log directory at a time; ${todo}${noteClause}`,
    { details: details as unknown as Record<string, unknown> },
  );
}

/** The details of every WAL_LOCKED that StorageIo's `lock` throws. */
export interface LockedDetails {
  path: string;
  holderPid: number | undefined;
  holderIsThisProcess: boolean;
  /** The holder may be gone but that cannot be proven from here: why not, and what to do. */
  holderMayHaveEnded?: string;
  /**
   * What else the refusal says, as a clause ("; …"): how long the opener waited for a
   * worker's lock on Deno, or that without the addon an ended worker's lock stays.
   */
  note?: string;
}

/**
 * Who holds the lock a WAL_LOCKED of `lock` names, as phrases for a caller that words the
 * refusal for what it locks (a portable file, a core file): `who` ("process 123"),
 * `doubt` (" (it may have ended, but …)" or empty) and `noteClause` (details.note, or
 * empty). `thisProcess` names the holder when it is this process.
 */
export function lockHolderOf(
  details: Partial<LockedDetails>,
  thisProcess = `this process (pid ${process.pid})`,
): { who: string; doubt: string; noteClause: string } {
  const who = details.holderIsThisProcess
    ? thisProcess
    : details.holderPid === undefined
      ? 'another process'
      : `process ${details.holderPid}`;
  return {
    who,
    doubt: details.holderMayHaveEnded
      ? ` (it may have ended, but ${details.holderMayHaveEnded})`
      : '',
    noteClause: details.note ?? '',
  };
}
