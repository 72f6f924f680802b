import { dirname } from 'node:path';
import {
  badArgument,
  encodeRecordFrame,
  isBytes,
  recordFrameSize,
  validateRecordInput,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { type IoLock, resolveStorage, type StorageIo } from '@walnut/storage-io';
import { cutPortableAfter } from './cut-portable.js';
import { openPortableFile } from './open-portable-file.js';
import { encodeBatches, keptBatchError, PendingBatches } from './pending-batches.js';
import { type PortableCounters, PortableFile } from './portable-file.js';
import {
  type PortableContent,
  type PortableWalWriterConfig,
  portableOptions,
} from './portable-options.js';
import type { PortableRecovery } from './scan-portable.js';
import { SerialQueue } from './serial-queue.js';

export interface PortableWalStats extends PortableCounters {
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
  private readonly file: PortableFile;
  private readonly lock: IoLock | WalError;
  private readonly maxRecordSize: number;
  private readonly serial = new SerialQueue();
  private readonly pending: PendingBatches;
  private position: number;
  /** Null in a reopened 'raw' file holding raw bytes: checksummed records are refused there. */
  private lsn: bigint | null;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(init: {
    path: string;
    content: PortableContent;
    io: StorageIo;
    ownsIo: boolean;
    file: PortableFile;
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
    this.file = init.file;
    this.lock = init.lock;
    this.pending = new PendingBatches(init.maxBatchBytes);
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
    const { path, content, maxBatchBytes, maxRecordSize } = portableOptions(file, config);
    const { io, owned } = await resolveStorage(config.storageIo, config.ioUring);
    try {
      // A memory backend of its own starts empty: no directory of the path exists in it yet.
      if (owned && io.name === 'memory') await io.mkdir(dirname(path));
      const opened = await openPortableFile(io, path, content);
      return new PortableWalWriter({
        path,
        content,
        io,
        ownsIo: owned,
        file: new PortableFile(io, opened.fd, path),
        lock: opened.lock,
        maxBatchBytes,
        maxRecordSize,
        position: opened.position,
        nextLsn: opened.nextLsn,
        recovery: opened.recovery,
      });
    } catch (error) {
      if (owned) await io.closeIo().catch(() => undefined);
      throw error;
    }
  }

  /** The batch size (file bytes) at which `appendBatched` writes the batch. */
  get maxBatchBytes(): number {
    return this.pending.limit;
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
    return this.pending.bytes;
  }

  get pendingBatchOps(): number {
    return this.pending.ops;
  }

  get hasPendingBatch(): boolean {
    return !this.pending.isEmpty;
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
    return this.serial.run(async () => {
      this.file.throwIfPoisoned();
      const cut = await cutPortableAfter(this.file, this.position, this.lsn!, lsn);
      this.position = cut.end;
      this.lsn = cut.nextLsn;
      return { afterLsn: lsn, recordsRemoved: cut.recordsRemoved };
    });
  }

  /** Drops every pending batch without writing it. Returns how many operations were dropped. */
  discardBatch(): number {
    return this.pending.discard();
  }

  /**
   * Makes everything appended so far durable with exactly one fdatasync (pending batches
   * are written first, as by `flushBatch`).
   */
  sync(): Promise<void> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    return this.serial.run(async () => {
      if (!this.pending.isEmpty) return this.writePending();
      this.file.throwIfPoisoned();
      await this.file.datasync();
    });
  }

  stats(): PortableWalStats {
    const description = this.io.describe();
    return {
      ...this.file.counters,
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
      if (!this.file.poisoned) {
        await this.serial.run(async () => {
          if (!this.pending.isEmpty) await this.writePending();
          else await this.file.datasync();
        });
      }
    } catch (error) {
      failure = error;
    }
    this.closed = true;
    await this.serial.idle();
    await this.io.close(this.file.fd).catch((error) => {
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
      this.file.throwIfPoisoned();
      const offset = this.position;
      let bytes: Uint8Array = data;
      if (asRecord) {
        const frame = Buffer.allocUnsafe(recordFrameSize({ payload: data }));
        encodeRecordFrame(frame, 0, this.lsn!, { payload: data });
        bytes = frame;
      }
      try {
        await this.file.write(bytes, offset);
      } catch (error) {
        await this.file.rollback(offset);
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
    if (this.pending.add(data, asRecord)) {
      await this.serial.run(() => this.writePending());
    }
    return this.pending.bytes;
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
    return this.file.poisonedError();
  }

  /** Writes every pending batch at the end of the file, then one fdatasync. */
  private async writePending(): Promise<void> {
    this.file.throwIfPoisoned();
    const taken = this.pending.take();
    if (taken.length === 0) return;
    const start = this.position;
    // Without a known LSN no batch holds a record (checkData refused them), so none is used.
    const { buffers, total, nextLsn } = encodeBatches(taken, this.lsn ?? 0n);
    try {
      await this.file.writeThenSync(buffers, total, start);
    } catch (error) {
      if (!this.file.poisoned) await this.file.rollback(start);
      this.pending.putBack(taken);
      if (this.file.poisoned) throw error;
      throw keptBatchError(error, taken, this.path);
    }
    this.position = start + total;
    if (this.lsn !== null) this.lsn = nextLsn;
    this.file.counters.batches += taken.length;
  }
}
