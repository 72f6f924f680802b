import { WalError } from '@walnut/codec';
import {
  Errno,
  finishWrite,
  type IoFd,
  ioErrorFromErrno,
  judgeWrite,
  linkedSyncRan,
  type PendingWrite,
  type StorageIo,
  type WriteFullyOptions,
  wasCancelled,
  writeError,
  writeFully,
} from '@walnut/storage-io';

const { EIO } = Errno;
const NO_BYTES = Buffer.alloc(0);

/** What the file's I/O did, as `PortableWalWriter.stats()` reports it. */
export interface PortableCounters {
  /** I/O operations handed to the StorageIo (writes and fdatasyncs). */
  submitted: number;
  /** Completions collected for them. */
  completed: number;
  /** Bytes written successfully (file header excluded). */
  bytes: number;
  /** Batches executed successfully by `flushBatch` (or by `appendBatched` reaching the limit). */
  batches: number;
  /** fdatasyncs that ran (successful or not). */
  syncs: number;
  /** Operations that completed with an error. */
  failures: number;
  /** Operations cancelled because the operation they were chained to failed. */
  cancelled: number;
}

/**
 * The open file's writes and fdatasyncs, counted, and what a failure of them leaves: after
 * a failed fdatasync or a cut that did not happen, what reached the disk is unknown, so the
 * file is poisoned and every further operation refused. The writer decides what to write
 * where; this decides how a write is finished and what its failure means.
 */
export class PortableFile {
  readonly counters: PortableCounters = {
    submitted: 0,
    completed: 0,
    bytes: 0,
    batches: 0,
    syncs: 0,
    failures: 0,
    cancelled: 0,
  };
  private failed: WalError | undefined;

  /** How `write` and a batch's rest count every part they send. */
  private readonly counted: WriteFullyOptions;

  constructor(
    readonly io: StorageIo,
    readonly fd: IoFd,
    readonly path: string,
  ) {
    this.counted = {
      path,
      observe: (result) => {
        this.counters.submitted++;
        this.counters.completed++;
        if (result > 0) this.counters.bytes += result;
        else this.counters.failures++;
      },
    };
  }

  /** The failure that poisoned the file, if one did. */
  get poisoned(): WalError | undefined {
    return this.failed;
  }

  poisonedError(): WalError | undefined {
    if (!this.failed) return undefined;
    return WalError.poisoned(
      `an fdatasync or write of ${this.path} failed earlier, so what reached the disk is unknown; close and reopen the file`,
      this.failed,
    );
  }

  throwIfPoisoned(): void {
    const error = this.poisonedError();
    if (error) throw error;
  }

  /** Writes all of `data` at `offset`, sending a short write's rest again. */
  write(data: Uint8Array, offset: number): Promise<void> {
    return writeFully(this.io, this.fd, data, offset, this.counted);
  }

  /**
   * The writes and the fdatasync go out together, the sync chained behind the last write.
   * By the write core's rules: a short write's rest is sent again, and the sync it cancelled
   * runs again after it; a sync that ran and failed poisons the file.
   */
  async writeThenSync(buffers: Buffer[], total: number, offset: number): Promise<void> {
    const io = this.io;
    const writeToken =
      buffers.length === 1
        ? io.submitWrite(this.fd, buffers[0]!, offset)
        : io.submitWritev(this.fd, buffers, offset);
    const syncToken = io.submitDatasync(this.fd, { linkToPrevious: true });
    this.counters.submitted += 2;
    io.flush();
    const [written, synced] = await Promise.all([
      io.completion(writeToken),
      io.completion(syncToken),
    ]);
    this.counters.completed += 2;
    // The bytes are gathered into one buffer only when a rest must be sent again.
    const batch: PendingWrite = {
      buf: buffers.length === 1 ? buffers[0]! : NO_BYTES,
      fileOffset: offset,
      length: total,
      done: 0,
    };
    const left = judgeWrite(batch, written.result);
    if (left < 0) this.counters.failures++;
    const ran = this.linkedSyncRan(synced.result);
    if (left < 0) throw writeError(batch, written.result, this.path, undefined, written.op);
    this.counters.bytes += written.result;
    if (left > 0) {
      const rest = buffers.length === 1 ? batch : { ...batch, buf: Buffer.concat(buffers, total) };
      await finishWrite(this.io, this.fd, rest, this.counted);
    }
    // A sync that ran before the rest was written does not cover it.
    if (!ran || left > 0) await this.datasync();
  }

  async datasync(): Promise<void> {
    const token = this.io.submitDatasync(this.fd);
    this.counters.submitted++;
    const completion = await this.io.completion(token);
    this.counters.completed++;
    this.counters.syncs++;
    if (completion.result < 0) this.failSync(completion.result);
  }

  /** Cuts the file back to `length` so a failed write leaves no partial bytes behind. */
  async rollback(length: number): Promise<void> {
    try {
      await this.io.truncate(this.fd, length);
    } catch (error) {
      this.poisonBy(error);
    }
  }

  /** Cuts the file to `length`; a cut that failed poisons the file and rejects. */
  async truncate(length: number): Promise<void> {
    try {
      await this.io.truncate(this.fd, length);
    } catch (error) {
      this.poisonBy(error);
      throw error;
    }
  }

  /** Counts the fdatasync linked behind a batch and judges it (`linkedSyncRan`). */
  private linkedSyncRan(result: number): boolean {
    if (wasCancelled(result)) this.counters.cancelled++;
    else this.counters.syncs++;
    try {
      return linkedSyncRan(result, this.path);
    } catch (error) {
      this.counters.failures++;
      this.failed = error as WalError;
      throw error;
    }
  }

  /** fsync errors are not retryable on Linux: the file refuses all further work. */
  private failSync(result: number): never {
    this.counters.failures++;
    this.failed = ioErrorFromErrno(result, 'fdatasync', this.path);
    throw this.failed;
  }

  private poisonBy(error: unknown): void {
    this.failed = error instanceof WalError ? error : ioErrorFromErrno(EIO, 'ftruncate', this.path);
  }
}
