/**
 * One in-memory file with two images: `written` (what reads see) and `durable` (what
 * the last completed sync made durable, i.e. what survives a power loss). Bytes past
 * the size are kept zero in both images, so growing a file reads zeros.
 */
export class MemoryFile {
  private data: Buffer = Buffer.alloc(0);
  private writtenSize = 0;
  private durable: Buffer = Buffer.alloc(0);
  private syncedSize = 0;
  /** Union of the byte ranges changed since the last sync ([start, end)), or null. */
  private dirtyStart = Number.POSITIVE_INFINITY;
  private dirtyEnd = 0;

  get size(): number {
    return this.writtenSize;
  }

  get durableSize(): number {
    return this.syncedSize;
  }

  write(source: Uint8Array, offset: number): number {
    const end = offset + source.length;
    this.data = ensureCapacity(this.data, end);
    this.data.set(source, offset);
    if (end > this.writtenSize) this.writtenSize = end;
    this.markDirty(offset, end);
    return source.length;
  }

  read(into: Uint8Array, offset: number): number {
    if (offset >= this.writtenSize) return 0;
    const end = Math.min(this.writtenSize, offset + into.length);
    into.set(this.data.subarray(offset, end));
    return end - offset;
  }

  /** Sets the length; bytes past a shrunk end are zeroed so that regrowing reads zeros. */
  truncate(length: number): void {
    if (length < this.writtenSize) {
      this.data.fill(0, length, this.writtenSize);
      this.markDirty(length, this.writtenSize);
    } else if (length > this.writtenSize) {
      this.data = ensureCapacity(this.data, length);
      this.markDirty(this.writtenSize, length);
    }
    this.writtenSize = length;
  }

  /** fallocate mode 0: the file becomes at least offset + length long. */
  allocate(offset: number, length: number): void {
    if (offset + length > this.writtenSize) this.truncate(offset + length);
  }

  /** A completed fdatasync/fsync: everything written so far becomes durable. */
  sync(): void {
    // Only bytes below the old durable size or just copied can be non-zero past the new size.
    let touchedEnd = this.syncedSize;
    if (this.dirtyEnd > 0) {
      const end = this.dirtyEnd;
      this.durable = ensureCapacity(this.durable, end);
      this.durable.set(this.data.subarray(this.dirtyStart, end), this.dirtyStart);
      this.dirtyStart = Number.POSITIVE_INFINITY;
      this.dirtyEnd = 0;
      touchedEnd = Math.max(touchedEnd, end);
    }
    this.syncedSize = this.writtenSize;
    if (touchedEnd > this.syncedSize) this.durable.fill(0, this.syncedSize, touchedEnd);
  }

  /**
   * A completed write with RWF_DSYNC: its own bytes `[start, end)` and a size grown to
   * `end` become durable. Other unsynced bytes do not, and a gap between the old durable
   * size and `start` reads as zeros after a power loss.
   */
  syncRange(start: number, end: number): void {
    this.durable = ensureCapacity(this.durable, end);
    this.durable.set(this.data.subarray(start, end), start);
    if (end > this.syncedSize) this.syncedSize = end;
  }

  get hasUnsyncedChanges(): boolean {
    return this.dirtyEnd > 0 || this.syncedSize !== this.writtenSize;
  }

  /** The range changed since the last sync (`[start, end)`), or null when there is none. */
  get unsyncedRange(): readonly [number, number] | null {
    return this.dirtyEnd > 0 ? [this.dirtyStart, this.dirtyEnd] : null;
  }

  /** A copy of `[start, end)` of the written image. */
  writtenRange(start: number, end: number): Buffer {
    return Buffer.from(this.data.subarray(start, Math.min(end, this.writtenSize)));
  }

  /** Power loss: the written image becomes the durable one. */
  revertToDurable(): void {
    this.data = Buffer.from(this.durable.subarray(0, this.syncedSize));
    this.writtenSize = this.syncedSize;
    this.dirtyStart = Number.POSITIVE_INFINITY;
    this.dirtyEnd = 0;
  }

  /** Power loss: `bytes` at `offset` reached the disk (a torn prefix, a page written back). Becomes durable. */
  applySurvivingBytes(bytes: Uint8Array, offset: number): void {
    this.write(bytes, offset);
    this.sync();
  }

  writtenImage(): Buffer {
    return Buffer.from(this.data.subarray(0, this.writtenSize));
  }

  durableImage(): Buffer {
    return Buffer.from(this.durable.subarray(0, this.syncedSize));
  }

  private markDirty(start: number, end: number): void {
    if (start < this.dirtyStart) this.dirtyStart = start;
    if (end > this.dirtyEnd) this.dirtyEnd = end;
  }
}

function ensureCapacity(buffer: Buffer, length: number): Buffer {
  if (buffer.length >= length) return buffer;
  const grown = Buffer.alloc(Math.max(length, buffer.length * 2, 4096));
  buffer.copy(grown);
  return grown;
}
