import { basename, join } from 'node:path';
import {
  CURSOR_DIR,
  CURSOR_SLOT_SIZE,
  type CursorPosition,
  type CursorSlot,
  cursorFileName,
  cursorSlotOffset,
  type DecodedCursor,
  encodeCursorFile,
  encodeCursorSlot,
  ioErrorFromErrno,
} from '@walnut/codec';
import { writeFileAtomically } from '@walnut/segmented';
import { Errno, type IoFd, type StorageIo } from '@walnut/storage-io';

/**
 * The one writer of a cursor's file (the file-system crash rigs target it), held by the
 * cursor's holder. A commit writes the slot that does not hold the last durable position,
 * then fdatasyncs the file (a linked pair, one round trip on io_uring): no new name, no
 * rename, no directory fsync, no metadata but the time stamps, which fdatasync skips. A
 * crash, torn write included, leaves the slot written whole or not: the other slot still
 * holds the last durable position.
 *
 * The file is written whole (`NAME.cursor.tmp`, fsync, rename, fsync of `cursors/` — the
 * FLOOR/GAPS path) when it is created, when it still has the first release's 20-byte
 * layout, and after a failed write, whose page state the kernel no longer vouches for.
 */
export class CursorFile {
  readonly path: string;
  private fd: IoFd | undefined;
  /** The slot holding the last durable position, and its sequence. */
  private slot: 0 | 1;
  private sequence: bigint;
  private replace: boolean;

  /**
   * `found`: what the file held when its holder opened it; undefined for a cursor that is
   * not on disk yet (its first write creates the file).
   */
  constructor(
    private readonly io: StorageIo,
    logDir: string,
    readonly name: string,
    found: DecodedCursor | undefined,
  ) {
    this.path = join(logDir, CURSOR_DIR, cursorFileName(name));
    this.slot = found?.slot ?? 0;
    this.sequence = found?.sequence ?? 0n;
    this.replace = found === undefined || found.layout === 'whole';
  }

  /** Makes `position` durable; true when the file was written whole (see the class). */
  async write(position: CursorPosition): Promise<boolean> {
    const sequence = this.sequence + 1n;
    if (this.replace) {
      await this.replaceWhole({ ...position, sequence });
      this.replace = false;
      this.slot = 0;
      this.sequence = sequence;
      return true;
    }
    const slot = this.slot === 0 ? 1 : 0;
    try {
      this.fd ??= await this.io.open(this.path);
      await this.writeSlot(this.fd, slot, encodeCursorSlot({ ...position, sequence }));
    } catch (error) {
      this.replace = true;
      throw error;
    }
    this.slot = slot;
    this.sequence = sequence;
    return false;
  }

  /** Closes the file (its position stays on disk). */
  async close(): Promise<void> {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) await this.io.close(fd);
  }

  private async writeSlot(fd: IoFd, slot: 0 | 1, bytes: Buffer): Promise<void> {
    const io = this.io;
    const write = io.submitWrite(fd, bytes, cursorSlotOffset(slot));
    const sync = io.submitDatasync(fd, { linkToPrevious: true });
    const [written, synced] = await Promise.all([io.completion(write), io.completion(sync)]);
    if (written.result < 0) throw ioErrorFromErrno(written.result, 'pwrite', this.path);
    // A short write of 32 bytes in the middle of a file is not a thing kernels do, and the
    // fdatasync linked to it ran only if it was whole.
    if (written.result !== CURSOR_SLOT_SIZE)
      throw ioErrorFromErrno(-Errno.EIO, 'pwrite', this.path);
    if (synced.result < 0) throw ioErrorFromErrno(synced.result, 'fdatasync', this.path);
  }

  private async replaceWhole(position: CursorSlot): Promise<void> {
    await this.close();
    // Through writeFileAtomically (above); the next slot write opens the renamed file.
    await writeFileAtomically(
      this.io,
      join(this.path, '..'),
      basename(this.path),
      encodeCursorFile(position),
    );
  }
}
