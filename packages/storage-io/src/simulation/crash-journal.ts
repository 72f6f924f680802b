import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { seededRandom, survivingPages, tornEnd, tornStart } from './tearing.js';

interface WriteRecord {
  readonly fd: number;
  readonly offset: number;
  readonly length: number;
  /** The bytes the write replaced (clipped to the file size before it). */
  readonly preImage: Buffer;
  /** The file size just before the write was submitted. */
  readonly sizeBefore: number;
  done: boolean;
}

/**
 * Undo information for simulating a power loss over real files (sync-fs, io_uring): the
 * pre-image of every write not yet covered by a completed sync, and the files created
 * since their directory was last synced. `crash` restores pre-images newest first,
 * truncates each file back to its size before its oldest uncovered write (never below the
 * end of a completed dsync write, which covers itself), writes back what survives (a torn
 * prefix of the last write; with `reorder`, pages of any of them) and unlinks names never
 * made durable.
 *
 * It assumes what a log's writer does: the files are written only through this
 * instance, no two in-flight writes overlap, and sizes change only by writes (not by
 * truncate/fallocate while writes are unsynced). Renames and unlinks are not undone.
 * Files opened for writing with direct I/O get a buffered twin descriptor for the journal's
 * own reads and restores, which O_DIRECT would refuse as misaligned.
 */
export class CrashJournal {
  private readonly records: WriteRecord[] = [];
  private readonly createdNames = new Set<string>();
  /** Per descriptor, the end of the furthest dsync write: the size a crash cannot cut below. */
  private readonly dsyncEnds = new Map<number, number>();
  private readonly paths = new Map<number, string>();
  /** Buffered descriptors of the files opened with O_DIRECT, by their direct descriptor. */
  private readonly twins = new Map<number, number>();

  /** `writableDirect`: opened with O_DIRECT for writing, so it gets a buffered twin. */
  opened(fd: number, path: string, created: boolean, writableDirect: boolean): void {
    this.paths.set(fd, path);
    if (created) this.createdNames.add(path);
    if (writableDirect) this.twins.set(fd, fs.openSync(path, 'r+'));
  }

  closed(fd: number): void {
    this.paths.delete(fd);
    this.dsyncEnds.delete(fd);
    const twin = this.twins.get(fd);
    this.twins.delete(fd);
    if (twin !== undefined) fs.closeSync(twin);
  }

  /** The descriptor the journal reads and restores `fd`'s file through. */
  private plain(fd: number): number {
    return this.twins.get(fd) ?? fd;
  }

  /** Call before handing the write to the backend; returns the record to mark done. */
  beforeWrite(fd: number, offset: number, length: number): WriteRecord | null {
    let sizeBefore: number;
    try {
      sizeBefore = fs.fstatSync(fd).size;
    } catch {
      return null;
    }
    const end = Math.min(offset + length, sizeBefore);
    const preImage = Buffer.alloc(Math.max(0, end - offset));
    if (preImage.length > 0) fs.readSync(this.plain(fd), preImage, 0, preImage.length, offset);
    const record: WriteRecord = { fd, offset, length, preImage, sizeBefore, done: false };
    this.records.push(record);
    return record;
  }

  /** A sync is being submitted: it will cover the writes on `fd` completed by now. */
  coveredBySync(fd: number): WriteRecord[] {
    return this.records.filter((record) => record.fd === fd && record.done);
  }

  /** That sync completed successfully. */
  synced(covered: readonly WriteRecord[]): void {
    for (const record of covered) {
      const index = this.records.indexOf(record);
      if (index >= 0) this.records.splice(index, 1);
    }
  }

  /**
   * A dsync write completed: its own bytes are durable, and so is the file's size up to its
   * end (ext4 commits the size with the range), whatever unsynced writes lie before it.
   */
  dsyncDone(record: WriteRecord): void {
    this.synced([record]);
    const end = record.offset + record.length;
    if (end > (this.dsyncEnds.get(record.fd) ?? 0)) this.dsyncEnds.set(record.fd, end);
  }

  directorySynced(directory: string): void {
    for (const path of this.createdNames) {
      if (dirname(path) === directory) this.createdNames.delete(path);
    }
  }

  crash(options: { tear: boolean; reorder: boolean }, seed: number): void {
    const random = seededRandom(seed);
    const survivors: { fd: number; offset: number; bytes: Buffer }[] = [];
    if (options.reorder) {
      for (const fd of new Set(this.records.map((record) => record.fd))) {
        const ranges = this.records
          .filter((record) => record.fd === fd)
          .map((record) => [record.offset, record.offset + record.length] as const);
        for (const [start, end] of survivingPages(
          ranges,
          fs.fstatSync(this.plain(fd)).size,
          random,
        ))
          survivors.push({ fd, offset: start, bytes: this.current(fd, start, end) });
      }
    }
    const last = this.records.at(-1);
    if (options.tear && last !== undefined) {
      const end = tornEnd(last.offset, last.length, random);
      if (end > last.offset) {
        const start = tornStart(last.offset);
        survivors.push({ fd: last.fd, offset: start, bytes: this.current(last.fd, start, end) });
      }
    }
    const oldestSize = new Map<number, number>();
    for (let i = this.records.length - 1; i >= 0; i--) {
      const record = this.records[i]!;
      if (record.preImage.length > 0) {
        const fd = this.plain(record.fd);
        fs.writeSync(fd, record.preImage, 0, record.preImage.length, record.offset);
      }
      oldestSize.set(record.fd, record.sizeBefore);
    }
    for (const [fd, size] of oldestSize) {
      fs.ftruncateSync(fd, Math.max(size, this.dsyncEnds.get(fd) ?? 0));
    }
    for (const survivor of survivors) {
      const fd = this.plain(survivor.fd);
      fs.writeSync(fd, survivor.bytes, 0, survivor.bytes.length, survivor.offset);
    }
    for (const fd of [...this.paths.keys(), ...this.twins.values()]) {
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    for (const path of this.createdNames) fs.rmSync(path, { force: true });
    this.records.length = 0;
    this.dsyncEnds.clear();
    this.paths.clear();
    this.twins.clear();
    this.createdNames.clear();
  }

  /** What the file of `fd` holds in `[start, end)` now. */
  private current(fd: number, start: number, end: number): Buffer {
    const bytes = Buffer.alloc(end - start);
    const got = fs.readSync(this.plain(fd), bytes, 0, bytes.length, start);
    return bytes.subarray(0, got);
  }
}
