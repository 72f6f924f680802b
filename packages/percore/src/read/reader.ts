import {
  type CoreEntry,
  decodeFileHeader,
  FILE_HEADER_SIZE,
  type FileHeader,
  invalidArgument,
  pathOption,
  type ScanStop,
  WalError,
} from '@walnut/codec';
import { createStorageIo, type IoFd, type StorageIo } from '@walnut/storage-io';
import { checkCoreHeader } from '../files/core-file.js';
import type { ResumePoint } from '../files/resume-point.js';
import {
  midFileCorruptionError,
  readFully,
  scanCoreRange,
  shortCoreFileError,
} from '../files/scan.js';

export interface PerCoreWalReaderOptions {
  /** Default: `createStorageIo()`, owned (closed) by the reader. */
  readonly io?: StorageIo;
  /** The core this file belongs to; an entry of another core is `WAL_CORRUPT`. Default: the first entry's. */
  readonly coreId?: number;
}

export interface CoreReadOptions {
  /**
   * Where to start: a file offset that is an entry boundary, or a boundary with the sequence
   * of the entry before it (then the first entry must continue that sequence). Default: the
   * first entry after the header, which must be sequence 1.
   */
  readonly from?: number | ResumePoint;
  /** Where to stop reading (default: the file size). */
  readonly to?: number;
  /**
   * Read as recovery does: the range is the core's tail from its last checkpoint, where a
   * hole a power loss left (later unsynced entries kept without earlier ones) ends the read
   * as a torn tail instead of `WAL_CORRUPT`. Default false.
   */
  readonly unsyncedTail?: boolean;
}

/** One core file's entries from a start offset, and why and where reading stopped. */
export interface CoreReadResult {
  readonly path: string;
  readonly coreId: number | null;
  readonly from: number;
  readonly entries: CoreEntry[];
  /** eof: clean end; torn: an interrupted write at `stop.offset` (recovery cuts it off). */
  readonly stop: ScanStop;
  /** File offset just after the last valid entry. */
  readonly end: number;
}

/**
 * Reads one core file: the header is checked, entries are validated (CRC, core id, sequence
 * continuity) and returned in file order with the reason reading stopped. Damage followed by
 * valid entries is `WAL_CORRUPT` naming the file and offset, never a silently short result.
 */
export class PerCoreWalReader {
  private closing: Promise<void> | null = null;

  private constructor(
    readonly path: string,
    readonly header: FileHeader,
    readonly size: number,
    private readonly io: StorageIo,
    private readonly ownsIo: boolean,
    private readonly fd: IoFd,
    private readonly coreId: number | null,
  ) {}

  static async open(
    file: string | URL,
    options: PerCoreWalReaderOptions = {},
  ): Promise<PerCoreWalReader> {
    const path = pathOption(file, 'path');
    const io = options.io ?? createStorageIo();
    const ownsIo = options.io === undefined;
    let fd: IoFd | null = null;
    try {
      fd = await io.open(path, { readOnly: true });
      const size = await io.size(fd);
      if (size < FILE_HEADER_SIZE) throw shortCoreFileError(path, size);
      const header = decodeFileHeader(await readFully(io, fd, path, 0, FILE_HEADER_SIZE), path);
      checkCoreHeader(header.fileKind, header.cipher, path, options.coreId ?? -1);
      return new PerCoreWalReader(path, header, size, io, ownsIo, fd, options.coreId ?? null);
    } catch (error) {
      if (fd !== null) await io.close(fd).catch(() => {});
      if (ownsIo) await io.closeIo();
      throw error;
    }
  }

  /** Reads the entries in `[from, to)`; throws `WAL_CORRUPT` on mid-file damage. */
  async read(options: CoreReadOptions = {}): Promise<CoreReadResult> {
    // The descriptor number may belong to another file of a shared StorageIo by now.
    if (this.closing !== null)
      throw WalError.closed(`the reader of ${this.path}`, 'open a new PerCoreWalReader');
    const from = options.from ?? FILE_HEADER_SIZE;
    const start = typeof from === 'number' ? from : from.position;
    const to = options.to ?? this.size;
    if (!Number.isSafeInteger(start) || start < FILE_HEADER_SIZE || start > to || to > this.size)
      invalidArgument(
        `${this.path}: cannot read from ${start} to ${to}; the file holds ${this.size} bytes and entries start at 64`,
      );
    const previousSequence =
      typeof from !== 'number' ? from.sequence : start === FILE_HEADER_SIZE ? 0n : null;
    const entries: CoreEntry[] = [];
    const outcome = await scanCoreRange(
      this.io,
      this.fd,
      this.path,
      start,
      to,
      { coreId: this.coreId, previousSequence, unsyncedTail: options.unsyncedTail === true },
      (entry) => entries.push(entry),
    );
    if (outcome.stop.kind === 'corrupt')
      throw midFileCorruptionError(this.path, outcome.stop, {
        segment: this.path,
        offset: outcome.stop.offset,
        coreId: this.coreId ?? undefined,
      });
    const coreId = this.coreId ?? entries[0]?.coreId ?? null;
    return { path: this.path, coreId, from: start, entries, stop: outcome.stop, end: outcome.end };
  }

  /** `await using x = …` closes it when the scope ends, as `close()` does. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Closes the file (and an owned StorageIo); closing again waits for the same close. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    try {
      await this.io.close(this.fd);
    } finally {
      if (this.ownsIo) await this.io.closeIo();
    }
  }
}
