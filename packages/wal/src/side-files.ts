import { join } from 'node:path';
import { badArgument, WalError, WalErrorCode } from '@walnut/codec';
import { readSmallFile, removeIfPresent, tmpName, writeFileAtomically } from '@walnut/segmented';
import { readFully, type StorageIo } from '@walnut/storage-io';
import type { WalStatus } from './internal/lifecycle/wal-status.js';
import { closedError, readOnlyError } from './internal/refusals.js';

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

/**
 * Writes `bytes` at `offset` of side file `name` and makes them durable (fdatasync), for a
 * layer's state that only grows: the bytes around them stay as they were, so a power cut
 * during the write can leave any prefix of `bytes` written (the layer checks what it
 * reads). The file must exist (`writeSideFile` creates it), and `offset` must not lie past
 * its end, so no write leaves a hole.
 */
export async function writeSideFileAt(
  io: StorageIo,
  dir: string,
  name: string,
  offset: number,
  bytes: Uint8Array,
): Promise<void> {
  checkSideFileName(name);
  if (!Number.isSafeInteger(offset) || offset < 0)
    badArgument('a side file offset', 'a non-negative safe integer', offset);
  const path = join(dir, name);
  const found = await io.stat(path);
  if (found === null)
    throw new WalError(
      WalErrorCode.BAD_STATE,
      `side file ${name} does not exist: create it with writeSideFile before writing into it`,
    );
  if (offset > found.size)
    badArgument(`an offset into side file ${name}`, `at most its size (${found.size})`, offset);
  const fd = await io.open(path);
  try {
    await io.write(fd, bytes, offset);
    await io.datasync(fd);
  } finally {
    await io.close(fd);
  }
}

/** Removes side file `name` and a temporary file a crash left of it; whether it was there. */
export async function removeSideFile(io: StorageIo, dir: string, name: string): Promise<boolean> {
  checkSideFileName(name);
  await removeIfPresent(io, join(dir, tmpName(name)));
  const path = join(dir, name);
  if ((await io.stat(path)) === null) return false;
  await io.unlink(path);
  return true;
}

/** Which bytes of a side file `readSideFile` reads: `length` of them from `offset`. */
export interface SideFileRange {
  readonly offset: number;
  readonly length: number;
}

/**
 * Side file `name`'s bytes, or undefined when there is none: all of them, or those of
 * `range` (fewer where the file ends first).
 */
export async function readSideFile(
  io: StorageIo,
  dir: string,
  name: string,
  range?: SideFileRange,
): Promise<Buffer | undefined> {
  checkSideFileName(name);
  if (range !== undefined) return readSideFileRange(io, join(dir, name), name, range);
  const bytes = await readSmallFile(io, dir, name, MAX_SIDE_FILE_BYTES + 1);
  if (bytes !== null && bytes.length > MAX_SIDE_FILE_BYTES) {
    throw new WalError(
      WalErrorCode.BAD_STATE,
      `side file ${name} is over ${MAX_SIDE_FILE_BYTES} bytes: it was not written by writeSideFile; remove or move it`,
    );
  }
  return bytes ?? undefined;
}

async function readSideFileRange(
  io: StorageIo,
  path: string,
  name: string,
  { offset, length }: SideFileRange,
): Promise<Buffer | undefined> {
  if (!Number.isSafeInteger(offset) || offset < 0)
    badArgument('a side file range offset', 'a non-negative safe integer', offset);
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_SIDE_FILE_BYTES)
    badArgument(
      `a range length of side file ${name}`,
      `an integer in 0..${MAX_SIDE_FILE_BYTES}`,
      length,
    );
  if ((await io.stat(path)) === null) return undefined;
  const fd = await io.open(path, { readOnly: true });
  try {
    // Its own memory (never the pool's), 8-aligned: a layer may keep views of wider numbers.
    // Not zero-filled first (it can be tens of MiB): only what the read did not cover.
    const into = Buffer.allocUnsafeSlow(length);
    const read = await readFully(io, fd, into, offset);
    into.fill(0, read);
    return into.subarray(0, read);
  } finally {
    await io.close(fd);
  }
}

/**
 * The side files of one open log (the Wal's `writeSideFile` and the rest): each call is
 * refused first as the log's state says (closed, poisoned, read-only).
 */
export class SideFiles {
  constructor(
    private readonly io: StorageIo,
    private readonly dir: string,
    private readonly status: WalStatus,
    private readonly readOnly: boolean,
  ) {}

  async write(name: string, bytes: Uint8Array): Promise<void> {
    this.checkWritable('writeSideFile()');
    await writeSideFile(this.io, this.dir, name, bytes);
  }

  async writeAt(name: string, offset: number, bytes: Uint8Array): Promise<void> {
    this.checkWritable('writeSideFileAt()');
    await writeSideFileAt(this.io, this.dir, name, offset, bytes);
  }

  async read(name: string, range?: SideFileRange): Promise<Buffer | undefined> {
    if (this.status.closed) throw closedError();
    return readSideFile(this.io, this.dir, name, range);
  }

  async remove(name: string): Promise<boolean> {
    this.checkWritable('removeSideFile()');
    return removeSideFile(this.io, this.dir, name);
  }

  private checkWritable(what: string): void {
    this.status.throwIfUnusable();
    if (this.readOnly) throw readOnlyError(what);
  }
}
