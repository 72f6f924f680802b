import { classifyLogDirectory, isWalError, WalError, WalErrorCode } from '@walnut/codec';
import { Errno, type StorageIo } from '@walnut/storage-io';

const { EACCES, ENOTDIR, EPERM, EROFS } = Errno;

/**
 * Refuses, before anything is written, a directory that is not a segmented log and holds
 * other files (a project folder, another program's data, a per-core log): WAL_NOT_A_LOG,
 * naming what was found. `allowOtherFiles` lets a caller create a log there on purpose.
 */
export async function checkLogDirectory(
  io: StorageIo,
  dir: string,
  allowOtherFiles: boolean,
): Promise<void> {
  let names: string[];
  try {
    names = await io.readdir(dir);
  } catch (error) {
    if (errnoOf(error) === ENOTDIR) {
      throw new WalError(
        WalErrorCode.NOT_A_LOG,
        `${dir} is a file, not a directory: a log is a directory of segment files; pass the path of a directory (a missing one is created)`,
        { details: { path: dir }, cause: error },
      );
    }
    throw error;
  }
  const listing = classifyLogDirectory(names);
  if (listing.kind !== 'other' || allowOtherFiles) return;
  const shown = listing.others.slice(0, 5).join(', ');
  const more = listing.others.length > 5 ? ` and ${listing.others.length - 5} more` : '';
  const perCore = listing.others.includes('MANIFEST')
    ? ' MANIFEST is what a per-core log keeps: open it with PerCoreWalManager.open.'
    : '';
  throw new WalError(
    WalErrorCode.NOT_A_LOG,
    `${dir} is not a Walnut log: it holds ${shown}${more} and no segment.${perCore} Open the log's own directory, or an empty or missing one; to create a log among these files on purpose, pass allowOtherFiles: true`,
    { details: { path: dir, found: listing.others.slice(0, 20) } },
  );
}

/**
 * The error for a lock a writer could not create in an existing directory: a directory it
 * may not write names readOnly, which reads without writing anything.
 */
export function lockCreationError(dir: string, error: unknown): unknown {
  const errno = errnoOf(error);
  if (errno !== EACCES && errno !== EPERM && errno !== EROFS) return error;
  return new WalError(
    WalErrorCode.IO,
    `${dir} cannot be written by this process (${(error as Error).message}); a writer creates its lock and segments there: fix the permissions, or open the log with readOnly to read it without writing`,
    { details: { path: dir, errno }, cause: error },
  );
}

function errnoOf(error: unknown): number | undefined {
  if (isWalError(error)) {
    const errno = (error.details as { errno?: unknown } | undefined)?.errno;
    return typeof errno === 'number' ? errno : undefined;
  }
  const errno = (error as { errno?: unknown } | null)?.errno;
  return typeof errno === 'number' ? Math.abs(errno) : undefined;
}
