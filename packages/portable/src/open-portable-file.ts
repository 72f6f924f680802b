import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import {
  decodeFileHeader,
  encodeFileHeader,
  FILE_HEADER_SIZE,
  isTornHeader,
  isWalError,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import {
  type IoFd,
  type IoLock,
  type LockedDetails,
  lockHolderOf,
  readFully,
  type StorageIo,
} from '@walnut/storage-io';
import type { PortableContent } from './portable-options.js';
import {
  nextLsnOfRecordsOnly,
  type PortableRecovery,
  scanPortableRecords,
} from './scan-portable.js';

/** A portable file opened for appending: where the next write goes and what opening cut. */
export interface OpenedPortableFile {
  fd: IoFd;
  /** The lock held, or why none could be had (the file is then open unlocked). */
  lock: IoLock | WalError;
  position: number;
  /** Null in a 'raw' file holding raw bytes: its records' numbering cannot be continued. */
  nextLsn: bigint | null;
  recovery: PortableRecovery | null;
}

/**
 * Locks `path`, opens it (creating it if missing) and makes it ready to append to: a new
 * file gets its header, an existing one is checked and, for `'records'`, scanned and cut
 * after its last whole record. On failure nothing it opened stays open.
 */
export async function openPortableFile(
  io: StorageIo,
  path: string,
  content: PortableContent,
): Promise<OpenedPortableFile> {
  let fd: IoFd | undefined;
  let lock: IoLock | WalError | undefined;
  try {
    lock = await lockIfPossible(io, path);
    fd = await io.open(path, { create: true });
    return { fd, lock, ...(await prepareFile(io, fd, path, content)) };
  } catch (error) {
    if (fd !== undefined) await io.close(fd).catch(() => undefined);
    if (lock !== undefined && !(lock instanceof WalError))
      await lock.release().catch(() => undefined);
    throw error;
  }
}

/**
 * Makes this writer the file's only one (`StorageIo.lock` on its path: flock where the addon
 * loaded, and the owner file `<path>.pid`): a second writer would append over the first's
 * records. WAL_LOCKED when another holds it. Where no lock can be had at all
 * (WAL_LOCK_UNAVAILABLE: no addon and no /proc, as on systems other than Linux), the file
 * opens unlocked and the error says why in `stats().lock`: a single-file log is meant to
 * work there.
 */
async function lockIfPossible(io: StorageIo, path: string): Promise<IoLock | WalError> {
  try {
    return await io.lock(path);
  } catch (error) {
    if (isWalError(error, WalErrorCode.LOCK_UNAVAILABLE)) return error;
    if (isWalError(error, WalErrorCode.LOCKED)) throw fileLockedError(path, error);
    throw error;
  }
}

/**
 * StorageIo's WAL_LOCKED speaks of log directories and their writers, and of read-only
 * opens, which a portable file does not have: this one says what to do about a file, and
 * keeps what the original says of its holder (whether it may be gone, and its note).
 */
function fileLockedError(path: string, locked: WalError): WalError {
  const details = locked.details as Partial<LockedDetails>;
  const { who, doubt, noteClause } = lockHolderOf(details);
  const todo = details.holderIsThisProcess
    ? 'close the other PortableWalWriter of this file first'
    : `close its PortableWalWriter or stop ${who} first (if it runs no more, remove ${path}.pid)`;
  return new WalError(
    WalErrorCode.LOCKED,
    `${path} is open in a PortableWalWriter of ${who}${doubt}: one writer per file at a time; ${todo}${noteClause}. To read the file meanwhile, use MmapWalReader (@walnut/mmap-reader) or FrameScanner (@walnut/codec), which take no lock`,
    { cause: locked, details: { ...locked.details, path } },
  );
}

/** A short file that is not a header a crash cut short: someone else's, left as it is. */
function notAPortableLog(path: string, size: number): WalError {
  return new WalError(
    WalErrorCode.CORRUPT,
    `${path} holds ${size} bytes that are not the start of a Walnut header: it is another program's file (or a damaged one), not a portable log, and was left as it is; pass the path of a new or empty file, or move this one away`,
    { details: { segment: path, offset: 0 } },
  );
}

/** Creates the header of a new file, or checks an existing one and finds where to append. */
async function prepareFile(
  io: StorageIo,
  fd: IoFd,
  path: string,
  content: PortableContent,
): Promise<{ position: number; nextLsn: bigint | null; recovery: PortableRecovery | null }> {
  const size = await io.size(fd);
  if (size < FILE_HEADER_SIZE) {
    // Empty, or a creation that crashed before its header was durable: nothing was ever
    // appended to such a file, so it is (re)initialised. Another program's short file is not.
    if (size > 0) {
      const start = Buffer.alloc(size);
      await readFully(io, fd, start, 0);
      if (!isTornHeader(start)) throw notAPortableLog(path, size);
      await io.truncate(fd, 0);
    }
    const header = encodeFileHeader({
      firstLsn: 1n,
      salt: randomBytes(16),
      cipher: 'none',
      fileKind: 'portable',
      keyId: 0,
      // Still version 1: its records carry no time (decision 0112).
      version: 1,
    });
    await io.write(fd, header, 0);
    await io.datasync(fd);
    await io.syncDirectory(dirname(path));
    return { position: FILE_HEADER_SIZE, nextLsn: 1n, recovery: null };
  }
  const headerBytes = Buffer.alloc(FILE_HEADER_SIZE);
  await readFully(io, fd, headerBytes, 0);
  const header = decodeFileHeader(headerBytes, path);
  if (header.fileKind !== 'portable') {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `${path} is a ${header.fileKind} file, not a portable log; open it with the matching reader`,
    );
  }
  if (header.cipher !== 'none') {
    throw new WalError(
      WalErrorCode.UNSUPPORTED_FORMAT,
      `${path} is encrypted; the portable writer writes plaintext files only`,
    );
  }
  if (content === 'raw') {
    const nextLsn = await nextLsnOfRecordsOnly(io, fd, size, header.headerLength, header.firstLsn);
    return { position: size, nextLsn, recovery: null };
  }
  const scan = await scanPortableRecords(io, fd, path, size, header.headerLength, header.firstLsn);
  if (scan.end < size) {
    await io.truncate(fd, scan.end);
    await io.datasync(fd);
  }
  return { position: scan.end, nextLsn: scan.nextLsn, recovery: scan.cut };
}
