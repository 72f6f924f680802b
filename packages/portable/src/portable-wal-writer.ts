import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import {
  badArgument,
  checkOptionKeys,
  DEFAULT_MAX_RECORD_SIZE,
  decodeFileHeader,
  encodeFileHeader,
  encodeRecordFrame,
  FILE_HEADER_SIZE,
  isBytes,
  isTornHeader,
  isWalError,
  pathOption,
  recordFrameSize,
  validateRecordInput,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import {
  Errno,
  type IoFd,
  type IoLock,
  type IoUringConfig,
  ioErrorFromErrno,
  type LockedDetails,
  linkedSyncRan,
  lockHolderOf,
  readFully,
  resolveStorage,
  type StorageChoice,
  type StorageIo,
  stalledWriteError,
  wasCancelled,
  writeFully,
  writeProgress,
} from '@walnut/storage-io';
import { PendingBatch } from './pending-batch.js';
import {
  nextLsnOfRecordsOnly,
  type PortableRecovery,
  scanPortableRecords,
} from './scan-portable.js';
import { SerialQueue } from './serial-queue.js';

/**
 * What a portable file holds:
 * - `'records'` (default): only checksummed records (`appendWithChecksum*`), each a codec
 *   record frame. Opening scans the file, cuts a torn tail (and fsyncs the cut), refuses
 *   mid-file damage with `WAL_CORRUPT`, and continues the LSNs.
 * - `'raw'`: your own bytes (`append*`), optionally mixed with checksummed records. Walnut
 *   cannot check raw bytes, so opening appends at the current end of the file. Checksummed
 *   records go on numbering after a reopen only when the file holds nothing else; otherwise
 *   their next LSN is unknown and `appendWithChecksum*` is refused (`WAL_BAD_STATE`).
 */
export type PortableContent = 'records' | 'raw';

export interface PortableWalWriterConfig {
  /** A StorageIo instance (never closed by the writer) or a backend name. Default `'auto'`. */
  storageIo?: StorageChoice;
  /** io_uring options when the writer creates an io_uring backend. */
  ioUring?: IoUringConfig;
  /** A batch is written (plus one fdatasync) once it holds this many file bytes. Default 1 MiB. */
  maxBatchBytes?: number;
  /** Default `'records'`. */
  content?: PortableContent;
  /** Largest payload of a checksummed record. Default `DEFAULT_MAX_RECORD_SIZE` (16 MiB). */
  maxRecordSize?: number;
}

export interface PortableWalStats {
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
  /** Backend in use and why. */
  backend: string;
  backendReason: string;
  /**
   * 'held': no other writer, in this process or another, can open the file while this one
   * is open. Otherwise why not: where neither flock nor a provable owner file can be had
   * (no native addon and no /proc), the writer opens unlocked and says so here.
   */
  lock: string;
}

const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;
const OPTION_NAMES: readonly (keyof PortableWalWriterConfig)[] = [
  'storageIo',
  'ioUring',
  'maxBatchBytes',
  'content',
  'maxRecordSize',
];
const { EIO } = Errno;

/**
 * A single-file log for users who want no segments: direct appends (written at once),
 * batched appends (written together, then one fdatasync), optional checksummed records.
 * Operations run one after another in call order.
 */
export class PortableWalWriter {
  readonly path: string;
  readonly content: PortableContent;
  /**
   * What opening cut from the end of the file (a torn tail, zeros, or a hole of lost writes
   * with the records after it); null when it cut nothing. Only `'records'` files are cut.
   */
  readonly recovery: PortableRecovery | null;
  private readonly io: StorageIo;
  private readonly ownsIo: boolean;
  private readonly fd: IoFd;
  private readonly lock: IoLock | WalError;
  private readonly batchLimit: number;
  private readonly maxRecordSize: number;
  private readonly serial = new SerialQueue();
  private batches: PendingBatch[] = [];
  private position: number;
  /** Null in a reopened 'raw' file holding raw bytes: checksummed records are refused there. */
  private lsn: bigint | null;
  private poisoned: WalError | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly counters = {
    submitted: 0,
    completed: 0,
    bytes: 0,
    batches: 0,
    syncs: 0,
    failures: 0,
    cancelled: 0,
  };

  private constructor(init: {
    path: string;
    content: PortableContent;
    io: StorageIo;
    ownsIo: boolean;
    fd: IoFd;
    lock: IoLock | WalError;
    maxBatchBytes: number;
    maxRecordSize: number;
    position: number;
    nextLsn: bigint | null;
    recovery: PortableRecovery | null;
  }) {
    this.path = init.path;
    this.content = init.content;
    this.recovery = init.recovery;
    this.io = init.io;
    this.ownsIo = init.ownsIo;
    this.fd = init.fd;
    this.lock = init.lock;
    this.batchLimit = init.maxBatchBytes;
    this.maxRecordSize = init.maxRecordSize;
    this.position = init.position;
    this.lsn = init.nextLsn;
  }

  /**
   * Opens (creating if missing) a portable log file, named by a path or a `file:` URL. A new
   * file gets a 64-byte header (`fileKind: 'portable'`), fsynced together with its directory
   * entry.
   */
  static async open(
    file: string | URL,
    config: PortableWalWriterConfig = {},
  ): Promise<PortableWalWriter> {
    const path = pathOption(file, 'path');
    if (typeof config !== 'object' || config === null)
      badArgument('config', 'an options object', config);
    // A misspelt option would otherwise be ignored and its default used without a word.
    checkOptionKeys(config, OPTION_NAMES, 'PortableWalWriter.open()');
    const content = config.content ?? 'records';
    if (content !== 'records' && content !== 'raw') {
      badArgument('content', "'records' or 'raw'", content);
    }
    const maxBatchBytes = config.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    if (!Number.isSafeInteger(maxBatchBytes) || maxBatchBytes < 1) {
      badArgument('maxBatchBytes', 'a positive integer', maxBatchBytes);
    }
    const maxRecordSize = config.maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE;
    if (!Number.isSafeInteger(maxRecordSize) || maxRecordSize < 1) {
      badArgument('maxRecordSize', 'a positive integer', maxRecordSize);
    }
    const { io, owned } = await resolveStorage(config.storageIo, config.ioUring);
    let fd: IoFd | undefined;
    let lock: IoLock | WalError | undefined;
    try {
      // A memory backend of its own starts empty: no directory of the path exists in it yet.
      if (owned && io.name === 'memory') await io.mkdir(dirname(path));
      lock = await lockIfPossible(io, path);
      fd = await io.open(path, { create: true });
      const { position, nextLsn, recovery } = await prepareFile(io, fd, path, content);
      return new PortableWalWriter({
        path,
        content,
        io,
        ownsIo: owned,
        fd,
        lock,
        maxBatchBytes,
        maxRecordSize,
        position,
        nextLsn,
        recovery,
      });
    } catch (error) {
      if (fd !== undefined) await io.close(fd).catch(() => undefined);
      if (lock !== undefined && !(lock instanceof WalError))
        await lock.release().catch(() => undefined);
      if (owned) await io.closeIo().catch(() => undefined);
      throw error;
    }
  }

  /** The batch size (file bytes) at which `appendBatched` writes the batch. */
  get maxBatchBytes(): number {
    return this.batchLimit;
  }

  /** Length of the file: the header plus everything written (pending batches excluded). */
  get size(): number {
    return this.position;
  }

  /**
   * LSN the next checksummed record will get when it is written; null in a reopened 'raw'
   * file that holds raw bytes (its records' numbering cannot be continued).
   */
  get nextLsn(): bigint | null {
    return this.lsn;
  }

  get pendingBatchBytes(): number {
    let bytes = 0;
    for (const batch of this.batches) bytes += batch.fileBytes;
    return bytes;
  }

  get pendingBatchOps(): number {
    let ops = 0;
    for (const batch of this.batches) ops += batch.ops;
    return ops;
  }

  get hasPendingBatch(): boolean {
    return this.batches.length > 0;
  }

  /** Writes `data` as is, now. Resolves with its file offset. Keep `data` unchanged until then. */
  append(data: Uint8Array): Promise<number> {
    return this.direct(data, false);
  }

  /** Writes `data` as one checksummed record frame, now. Resolves with the frame's file offset. */
  appendWithChecksum(data: Uint8Array): Promise<number> {
    return this.direct(data, true);
  }

  /**
   * Queues a copy of `data`. Resolves with the bytes then pending; when the batch reached
   * `maxBatchBytes` it is written (with one fdatasync) first, and a failure rejects here.
   */
  appendBatched(data: Uint8Array): Promise<number> {
    return this.batched(data, false);
  }

  /** `appendBatched` for a checksummed record (framed, and given its LSN, when written). */
  appendWithChecksumBatched(data: Uint8Array): Promise<number> {
    return this.batched(data, true);
  }

  /**
   * Writes every pending batch (submitted together) and then issues one fdatasync. If a
   * write fails, the file is cut back to where the batch began, the batch stays pending
   * (retry with `flushBatch`, or `discardBatch`), and this rejects; nothing is dropped.
   * With nothing pending it does no I/O.
   */
  flushBatch(): Promise<void> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    return this.serial.run(() => this.writePending());
  }

  /**
   * Cuts the file after the record of `lsn` (content `'records'` only): the file is
   * truncated to that record's end and fdatasynced — one size change, so a power loss
   * leaves it before or after the cut — and the next checksummed record gets `lsn + 1`.
   * Runs in call order like every operation: what was called before it is written first,
   * and it waits for that; pending batches get their LSNs when written, after the cut.
   * From 0n (every record) to the last LSN (nothing to do) (docs/decisions/0640).
   */
  truncateAfter(lsn: bigint): Promise<{ afterLsn: bigint; recordsRemoved: bigint }> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    if (this.content !== 'records') {
      return Promise.reject(
        new WalError(
          WalErrorCode.BAD_STATE,
          `${this.path} was opened with content 'raw': its raw bytes have no record boundaries to cut at`,
        ),
      );
    }
    if (typeof lsn !== 'bigint' || lsn < 0n) badArgument('lsn', 'a bigint LSN ≥ 0n', lsn);
    return this.serial.run(() => this.cutAfter(lsn));
  }

  private async cutAfter(lsn: bigint): Promise<{ afterLsn: bigint; recordsRemoved: bigint }> {
    this.throwIfPoisoned();
    const last = this.lsn! - 1n;
    if (lsn > last) {
      throw new WalError(
        WalErrorCode.BAD_ARGUMENT,
        `cannot cut ${this.path} after LSN ${lsn}: its last record is LSN ${last}`,
        { details: { lsn, lastLsn: last } },
      );
    }
    if (lsn === last) return { afterLsn: lsn, recordsRemoved: 0n };
    const headerBytes = Buffer.alloc(FILE_HEADER_SIZE);
    await readFully(this.io, this.fd, headerBytes, 0);
    const header = decodeFileHeader(headerBytes, this.path);
    if (lsn < header.firstLsn - 1n) {
      throw new WalError(
        WalErrorCode.BAD_ARGUMENT,
        `cannot cut ${this.path} after LSN ${lsn}: its first record is LSN ${header.firstLsn}; cut after ${header.firstLsn - 1n} to remove every record`,
        { details: { lsn } },
      );
    }
    const scan = await scanPortableRecords(
      this.io,
      this.fd,
      this.path,
      this.position,
      header.headerLength,
      header.firstLsn,
      lsn,
    );
    if (scan.nextLsn !== lsn + 1n) {
      // Opening read every record up to this writer's end; not finding one now means the
      // file changed under the writer.
      throw new WalError(
        WalErrorCode.CORRUPT,
        `cannot cut ${this.path} after LSN ${lsn}: reading it found no record of that LSN (its records end at offset ${scan.end}), so the file changed since it was opened; nothing was cut — close it and open it again`,
        { details: { segment: this.path, offset: scan.end, lsn } },
      );
    }
    try {
      await this.io.truncate(this.fd, scan.end);
    } catch (error) {
      this.poisoned =
        error instanceof WalError ? error : ioErrorFromErrno(EIO, 'ftruncate', this.path);
      throw error;
    }
    await this.datasync();
    this.position = scan.end;
    this.lsn = lsn + 1n;
    return { afterLsn: lsn, recordsRemoved: last - lsn };
  }

  /** Drops every pending batch without writing it. Returns how many operations were dropped. */
  discardBatch(): number {
    const ops = this.pendingBatchOps;
    this.batches = [];
    return ops;
  }

  /**
   * Makes everything appended so far durable with exactly one fdatasync (pending batches
   * are written first, as by `flushBatch`).
   */
  sync(): Promise<void> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    return this.serial.run(async () => {
      if (this.batches.length > 0) return this.writePending();
      this.throwIfPoisoned();
      await this.datasync();
    });
  }

  stats(): PortableWalStats {
    const description = this.io.describe();
    return {
      ...this.counters,
      backend: description.backend,
      backendReason: description.reason,
      lock: this.lock instanceof WalError ? `none: ${this.lock.message}` : 'held',
    };
  }

  /** `await using x = …` closes it when the scope ends, as `close()` does. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Writes any pending batch and issues a final fdatasync, then closes the file (and the
   * StorageIo if the writer created it). Idempotent. If the final sync fails the file is
   * still closed and this rejects with the failure.
   */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    let failure: unknown;
    try {
      if (!this.poisoned) {
        await this.serial.run(async () => {
          if (this.batches.length > 0) await this.writePending();
          else await this.datasync();
        });
      }
    } catch (error) {
      failure = error;
    }
    this.closed = true;
    await this.serial.idle();
    await this.io.close(this.fd).catch((error) => {
      failure ??= error;
    });
    if (!(this.lock instanceof WalError))
      await this.lock.release().catch((error) => {
        failure ??= error;
      });
    if (this.ownsIo) await this.io.closeIo();
    if (failure !== undefined) throw failure;
  }

  private direct(data: Uint8Array, asRecord: boolean): Promise<number> {
    const refusal = this.refusal() ?? this.checkData(data, asRecord);
    if (refusal) return Promise.reject(refusal);
    return this.serial.run(async () => {
      this.throwIfPoisoned();
      const offset = this.position;
      let bytes: Uint8Array = data;
      if (asRecord) {
        const frame = Buffer.allocUnsafe(recordFrameSize({ payload: data }));
        encodeRecordFrame(frame, 0, this.lsn!, { payload: data });
        bytes = frame;
      }
      try {
        await this.writeFully(bytes, offset);
      } catch (error) {
        await this.rollback(offset);
        throw error;
      }
      this.position += bytes.length;
      if (asRecord) this.lsn! += 1n;
      return offset;
    });
  }

  private async batched(data: Uint8Array, asRecord: boolean): Promise<number> {
    const refusal = this.refusal() ?? this.checkData(data, asRecord);
    if (refusal) throw refusal;
    const fileBytes = asRecord ? recordFrameSize({ payload: data }) : data.length;
    let current = this.batches[this.batches.length - 1];
    if (!current || (current.ops > 0 && current.fileBytes + fileBytes > this.batchLimit)) {
      current = new PendingBatch(Math.min(this.batchLimit, fileBytes));
      this.batches.push(current);
    }
    current.add(data, asRecord);
    if (this.batches.length > 1 || current.fileBytes >= this.batchLimit) {
      await this.serial.run(() => this.writePending());
    }
    return this.pendingBatchBytes;
  }

  private checkData(data: Uint8Array, asRecord: boolean): WalError | undefined {
    if (!isBytes(data)) {
      return new WalError(WalErrorCode.BAD_ARGUMENT, 'data must be a Buffer or Uint8Array');
    }
    if (asRecord) {
      if (this.lsn === null) {
        return new WalError(
          WalErrorCode.BAD_STATE,
          `${this.path} holds raw bytes from before it was reopened, so the LSN of a new checksummed record is unknown (numbering again from 1 would make readers report the file as damaged); write checksummed records to a file opened with content: 'records', or raw bytes here with append()`,
        );
      }
      try {
        validateRecordInput({ payload: data }, this.maxRecordSize);
      } catch (error) {
        return error as WalError;
      }
    } else if (this.content === 'records') {
      return new WalError(
        WalErrorCode.BAD_STATE,
        `${this.path} was opened with content 'records', which holds only checksummed records; use appendWithChecksum(), or open it with content: 'raw' to write your own bytes`,
      );
    }
    return undefined;
  }

  private refusal(): WalError | undefined {
    if (this.closed || this.closing) {
      return WalError.closed(`portable log ${this.path}`, 'open it again');
    }
    return this.poisonedError();
  }

  private poisonedError(): WalError | undefined {
    if (!this.poisoned) return undefined;
    return WalError.poisoned(
      `an fdatasync or write of ${this.path} failed earlier, so what reached the disk is unknown; close and reopen the file`,
      this.poisoned,
    );
  }

  private throwIfPoisoned(): void {
    const error = this.poisonedError();
    if (error) throw error;
  }

  /** Writes every pending batch at the end of the file, then one fdatasync. */
  private async writePending(): Promise<void> {
    this.throwIfPoisoned();
    const taken = this.batches;
    if (taken.length === 0) return;
    this.batches = [];
    const start = this.position;
    const buffers: Buffer[] = [];
    // Without a known LSN no batch holds a record (checkData refused them), so none is used.
    let lsn = this.lsn ?? 0n;
    let total = 0;
    for (const batch of taken) {
      const bytes = batch.encode(lsn);
      lsn += BigInt(batch.recordCount);
      total += bytes.length;
      buffers.push(bytes);
    }
    try {
      await this.writeThenSync(buffers, total, start);
    } catch (error) {
      if (!this.poisoned) await this.rollback(start);
      this.batches = taken.concat(this.batches);
      if (this.poisoned) throw error;
      throw keptBatchError(error, taken, this.path);
    }
    this.position = start + total;
    if (this.lsn !== null) this.lsn = lsn;
    this.counters.batches += taken.length;
  }

  /**
   * The writes and the fdatasync go out together, the sync chained behind the last write.
   * By the write core's rules: a short write's rest is sent again, and the sync it cancelled
   * runs again after it; a sync that ran and failed poisons the writer.
   */
  private async writeThenSync(buffers: Buffer[], total: number, offset: number): Promise<void> {
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
    const done = writeProgress(written.result, 0, total);
    if (done < 0) this.counters.failures++;
    const ran = this.linkedSyncRan(synced.result);
    if (done < 0) {
      throw written.result < 0
        ? ioErrorFromErrno(written.result, written.op, this.path)
        : stalledWriteError(this.path, offset);
    }
    this.counters.bytes += written.result;
    if (done < total) {
      const rest = Buffer.concat(buffers, total).subarray(done);
      await this.writeFully(rest, offset + done);
    }
    // A sync that ran before the rest was written does not cover it.
    if (!ran || done < total) await this.datasync();
  }

  /** Counts the fdatasync linked behind a batch and judges it (`linkedSyncRan`). */
  private linkedSyncRan(result: number): boolean {
    if (wasCancelled(result)) this.counters.cancelled++;
    else this.counters.syncs++;
    try {
      return linkedSyncRan(result, this.path);
    } catch (error) {
      this.counters.failures++;
      this.poisoned = error as WalError;
      throw error;
    }
  }

  private writeFully(data: Uint8Array, offset: number): Promise<void> {
    return writeFully(this.io, this.fd, data, offset, {
      path: this.path,
      observe: (result) => {
        this.counters.submitted++;
        this.counters.completed++;
        if (result > 0) this.counters.bytes += result;
        else this.counters.failures++;
      },
    });
  }

  private async datasync(): Promise<void> {
    const token = this.io.submitDatasync(this.fd);
    this.counters.submitted++;
    const completion = await this.io.completion(token);
    this.counters.completed++;
    this.counters.syncs++;
    if (completion.result < 0) this.failSync(completion.result);
  }

  /** fsync errors are not retryable on Linux: the writer refuses all further work. */
  private failSync(result: number): never {
    this.counters.failures++;
    this.poisoned = ioErrorFromErrno(result, 'fdatasync', this.path);
    throw this.poisoned;
  }

  /** Cuts the file back to `length` so a failed write leaves no partial bytes behind. */
  private async rollback(length: number): Promise<void> {
    try {
      await this.io.truncate(this.fd, length);
    } catch (error) {
      this.poisoned =
        error instanceof WalError ? error : ioErrorFromErrno(EIO, 'ftruncate', this.path);
    }
  }
}

function keptBatchError(error: unknown, taken: PendingBatch[], path: string): WalError {
  let ops = 0;
  let bytes = 0;
  for (const batch of taken) {
    ops += batch.ops;
    bytes += batch.fileBytes;
  }
  const code = error instanceof WalError ? error.code : WalErrorCode.IO;
  const reason = error instanceof Error ? error.message : String(error);
  return new WalError(
    code,
    `writing the batch to ${path} failed (${reason}); the file was cut back and the ${ops} pending operations (${bytes} bytes) are kept: call flushBatch() again (e.g. once space is free) or discardBatch()`,
    {
      cause: error,
      details: {
        ...(error instanceof WalError ? error.details : {}),
        pendingOps: ops,
        pendingBytes: bytes,
      },
    },
  );
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
