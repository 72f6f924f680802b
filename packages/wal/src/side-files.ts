import { WalError, WalErrorCode } from '@walnut/codec';
import { readSmallFile, writeFileAtomically } from '@walnut/segmented';
import type { StorageIo } from '@walnut/storage-io';

/**
 * A side file's name: lowercase, with a dot (`streams.checkpoint`), never ending in `.tmp`
 * or `.wal`. The log's own files are upper case (`LOCK`, `FLOOR`, `CUT`...), digits
 * (`NNN.wal`) or `cursors/`, so a side file can never replace one of them.
 */
const SIDE_FILE_NAME = /^[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+$/;

/** Room a side file read allocates at most: a larger file is refused, not truncated. */
const MAX_SIDE_FILE_BYTES = 1024 * 1024 * 1024;

export function checkSideFileName(name: string): void {
  if (
    typeof name !== 'string' ||
    name.length > 64 ||
    !SIDE_FILE_NAME.test(name) ||
    name.endsWith('.tmp') ||
    name.endsWith('.wal')
  ) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `side file name ${JSON.stringify(name)} is not allowed: use 1 to 64 of a-z 0-9 - and ., starting with a letter and holding a dot, not ending in .tmp or .wal (for example "myapp.state")`,
    );
  }
}

/**
 * Replaces side file `name` in the log directory so that a power cut leaves the old bytes or
 * the new ones, through the log's own StorageIo: `name.tmp`, fsync, rename, directory fsync.
 */
export async function writeSideFile(
  io: StorageIo,
  dir: string,
  name: string,
  bytes: Uint8Array,
): Promise<void> {
  checkSideFileName(name);
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  await writeFileAtomically(io, dir, name, buffer);
}

/** Side file `name`'s bytes, or undefined when there is none. */
export async function readSideFile(
  io: StorageIo,
  dir: string,
  name: string,
): Promise<Buffer | undefined> {
  checkSideFileName(name);
  const bytes = await readSmallFile(io, dir, name, MAX_SIDE_FILE_BYTES + 1);
  if (bytes !== null && bytes.length > MAX_SIDE_FILE_BYTES) {
    throw new WalError(
      WalErrorCode.BAD_STATE,
      `side file ${name} is over ${MAX_SIDE_FILE_BYTES} bytes: it was not written by writeSideFile; remove or move it`,
    );
  }
  return bytes ?? undefined;
}
