import { isWalError, WalError, WalErrorCode } from '@walnut/codec';
import { type IoLock, type LockedDetails, lockHolderOf, type StorageIo } from '@walnut/storage-io';

/**
 * A core file has one writer at a time: every CoreWalWriter holds the lock of the file's
 * sidecar `<file>.lock` (with its owner file `<file>.lock.pid`) while it is open. The
 * directory's LOCK is the manager's, and the manager hands cores to worker threads of its own
 * process, so that lock cannot tell a worker's writer from a stray one; this lock can, and
 * it keeps `openAt`, which cuts the file, from running under a live writer.
 */
export function coreLockPath(path: string): string {
  return `${path}.lock`;
}

/** True for a name that is a core file's lock sidecar or its owner file (`wal-0.log.lock.pid`). */
export function isCoreLockName(name: string, isCoreFile: (name: string) => boolean): boolean {
  const match = /^(.+)\.lock(\.pid.*)?$/.exec(name);
  return match !== null && isCoreFile(match[1]!);
}

/** Takes the lock of core `coreId`'s file; `WAL_LOCKED` saying who writes it otherwise. */
export async function lockCoreFile(io: StorageIo, coreId: number, path: string): Promise<IoLock> {
  try {
    return await io.lock(coreLockPath(path));
  } catch (error) {
    if (!isWalError(error, WalErrorCode.LOCKED)) throw error;
    const { who, doubt, noteClause } = lockHolderOf(
      error.details as Partial<LockedDetails>,
      `another writer in this process (pid ${process.pid}, maybe a worker thread)`,
    );
    throw new WalError(
      WalErrorCode.LOCKED,
      `${path} (core ${coreId}) is open for writing by ${who}${doubt}: a core file has one writer at a time, and opening it again would cut what that writer appended. Write the core through its owner (manager.writer(${coreId}), or the worker it was handed to with manager.handOff and openHandedOffWriter), or close that writer (or its PerCoreWalManager) first${noteClause}`,
      { cause: error, details: { ...error.details, segment: path, coreId } },
    );
  }
}

/**
 * Takes the lock of a per-core directory (`LOCK`, the manager's); `WAL_LOCKED` worded for
 * per-core logs otherwise: there is no read-only manager, only readers of core files.
 */
export async function lockCoresDirectory(io: StorageIo, lockPath: string): Promise<IoLock> {
  try {
    return await io.lock(lockPath);
  } catch (error) {
    if (!isWalError(error, WalErrorCode.LOCKED)) throw error;
    const { who, doubt, noteClause } = lockHolderOf(
      error.details as Partial<LockedDetails>,
      `another PerCoreWalManager in this process (pid ${process.pid})`,
    );
    throw new WalError(
      WalErrorCode.LOCKED,
      `${lockPath} is locked by ${who}${doubt}: one PerCoreWalManager owns a directory of per-core logs at a time. Close that manager (or stop its process) first; to read the core files beside it, use PerCoreWalReader${noteClause}`,
      { cause: error, details: error.details },
    );
  }
}
