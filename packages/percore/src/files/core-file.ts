import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import {
  coreEntryHead,
  decodeCoreEntryBody,
  decodeFileHeader,
  encodeFileHeader,
  FILE_HEADER_SIZE,
  FrameScanner,
  invalidArgument,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import type { IoFd, StorageIo } from '@walnut/storage-io';
import type { ResumePoint } from './resume-point.js';
import { readFully, scanCoreRange, shortCoreFileError } from './scan.js';

// The file under a CoreWalWriter: made new with its header, checked and cut back to a resume
// position, or rewritten sparsely to free what a checkpoint covers. The writer owns what
// happens in between; these own what a core file must be.

/**
 * Creates a new core file (`WAL_BAD_STATE` if it exists): writes the 64-byte header
 * (fileKind 'core'), fsyncs the file and its directory. Returns its descriptor.
 */
export async function createCoreFile(io: StorageIo, coreId: number, path: string): Promise<IoFd> {
  if ((await io.stat(path)) !== null)
    throw new WalError(
      WalErrorCode.BAD_STATE,
      `${path} already exists; resume it with CoreWalWriter.openAt (after recovery) or remove it first`,
      { details: { segment: path, coreId } },
    );
  const fd = await io.open(path, { create: true, exclusive: true });
  try {
    const header = encodeFileHeader({
      firstLsn: 0n,
      salt: randomBytes(16),
      cipher: 'none',
      fileKind: 'core',
      keyId: 0,
      // Still version 1: per-core entries carry their own timestamp (decision 0112).
      version: 1,
    });
    await io.write(fd, header, 0);
    await io.fsync(fd);
    await io.syncDirectory(dirname(path));
  } catch (error) {
    // This call made the file (exclusively): a retry must not find it half written.
    await io.close(fd).catch(() => {});
    await io.unlink(path).catch(() => {});
    throw error;
  }
  return fd;
}

/**
 * Checks the core file open at `fd` up to `position` (every entry from `from`), cuts what
 * follows and fsyncs the cut; returns the resume point of the last entry. `WAL_CORRUPT` if
 * `position` is not the end of a valid entry.
 */
export async function resumeCoreFile(
  io: StorageIo,
  fd: IoFd,
  coreId: number,
  path: string,
  position: number,
  from: ResumePoint,
  continued?: (position: number) => WalError,
): Promise<ResumePoint> {
  const size = await io.size(fd);
  if (size < FILE_HEADER_SIZE)
    throw shortCoreFileError(path, size, { segment: path, offset: 0, coreId });
  const header = decodeFileHeader(await readFully(io, fd, path, 0, FILE_HEADER_SIZE), path);
  checkCoreHeader(header.fileKind, header.cipher, path, coreId);
  if (position > size)
    throw new WalError(
      WalErrorCode.CORRUPT,
      `${path} is ${size} bytes but the resume position is ${position}; the file lost data it had synced`,
      { details: { segment: path, offset: size, coreId } },
    );
  const scan = await scanCoreRange(io, fd, path, from.position, position, {
    coreId,
    previousSequence: from.sequence,
  });
  if (scan.end !== position)
    throw new WalError(
      WalErrorCode.CORRUPT,
      `${path}: the valid entries of core ${coreId} end at ${scan.end} (${scan.stop.kind}: ${scan.stop.reason}), not at the resume position ${position}`,
      { details: { segment: path, offset: scan.end, coreId } },
    );
  const last = scan.lastEntry;
  const at: ResumePoint = last
    ? { position, sequence: last.sequence, epoch: last.epoch, timestampNs: last.timestampNs }
    : { ...from, position };
  if (size > position) {
    await refuseAnotherCoresTail(io, fd, coreId, path, position, size, continued);
    await io.truncate(fd, position);
    await io.fsync(fd);
  }
  return at;
}

/** What `refuseAnotherCoresTail` reads: enough for the first entry, unless it is a large one. */
const TAIL_PROBE = 64 * 1024;

/**
 * `WAL_BAD_ARGUMENT` when the first entry after `position` is another core's: the header
 * names no core, so with no entry before `position` (a resume from the header) only the
 * entries to be cut tell that the caller passed the wrong file or core id. `continued`: the
 * caller knows the core ends at `position` (a handoff's start, a valid end found before the
 * lock was taken), so an entry of this core after it was written by a writer the caller
 * does not know of: its error is thrown, and nothing is cut.
 */
async function refuseAnotherCoresTail(
  io: StorageIo,
  fd: IoFd,
  coreId: number,
  path: string,
  position: number,
  size: number,
  continued: ((position: number) => WalError) | undefined,
): Promise<void> {
  const probe = await readFully(io, fd, path, position, Math.min(size - position, TAIL_PROBE));
  const body = new FrameScanner(probe, { baseOffset: position, chunked: true }).nextFrame()?.body;
  if (body === undefined || coreEntryHead(body) === null) return;
  let owner: number;
  try {
    owner = decodeCoreEntryBody(body).coreId;
  } catch {
    return; // not an entry this check can read: the scan that follows judges it
  }
  if (owner === coreId && continued !== undefined) throw continued(position);
  if (owner !== coreId)
    invalidArgument(
      `${path} holds entries of core ${owner}, not core ${coreId}; nothing was cut. Pass coreId ${owner}, or the path of core ${coreId}'s file`,
    );
}

/** WAL_CORRUPT unless the header is a core file's; WAL_UNSUPPORTED_FORMAT if it is encrypted. */
export function checkCoreHeader(
  fileKind: string,
  cipher: string,
  path: string,
  coreId: number,
): void {
  if (fileKind !== 'core')
    throw new WalError(
      WalErrorCode.CORRUPT,
      `${path} is a '${fileKind}' file, not a per-core file; check the path and segmentPattern`,
      { details: { segment: path, offset: 0, coreId } },
    );
  if (cipher !== 'none')
    throw new WalError(
      WalErrorCode.UNSUPPORTED_FORMAT,
      `${path} is encrypted; per-core files are written unencrypted by this version`,
      { details: { segment: path, offset: 0, coreId } },
    );
}

/**
 * Makes `[header, before)` of the core file hold no data, so the file system can free it:
 * copies the header and `[before, end)` into `<path>.reclaim` at the same offsets, fsyncs it,
 * renames it over the file and fsyncs the directory (docs/decisions/0502-percore-reclaim-by-sparse-rewrite.md).
 * Returns a descriptor of the new file; `fd`, the old one, is left open.
 */
export async function rewriteSparse(
  io: StorageIo,
  fd: IoFd,
  path: string,
  before: number,
  end: number,
): Promise<IoFd> {
  const temp = `${path}.reclaim`;
  const header = await readFully(io, fd, path, 0, FILE_HEADER_SIZE);
  const tail = await readFully(io, fd, path, before, end - before);
  if ((await io.stat(temp)) !== null) await io.unlink(temp);
  const copy = await io.open(temp, { create: true, exclusive: true });
  try {
    await io.write(copy, header, 0);
    if (tail.length > 0) await io.write(copy, tail, before);
    else await io.truncate(copy, before);
    await io.fsync(copy);
  } finally {
    await io.close(copy);
  }
  await io.rename(temp, path);
  await io.syncDirectory(dirname(path));
  return io.open(path);
}
