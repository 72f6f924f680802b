import {
  type CoreEntry,
  type CoreOp,
  coreEntryFrameSize,
  encodeCoreEntryFrame,
  FILE_HEADER_SIZE,
  invalidArgument,
  pathOption,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import type { IoCompletion, IoFd, IoLock, StorageIo } from '@walnut/storage-io';
import { createCoreFile, resumeCoreFile, rewriteSparse } from '../files/core-file.js';
import { lockCoreFile } from '../files/core-lock.js';
import { HEADER_RESUME_POINT, type ResumePoint } from '../files/resume-point.js';
import { ioOrOwned } from '../owned-io.js';
import { MonotonicStamp, wallClockNs } from './clock.js';
import {
  type CoreWalWriterOptions,
  checkOptions,
  DEFAULT_CORE_BUFFER_SIZE,
  type OpenAtOptions,
} from './core-wal-writer-options.js';
import { CoreWrites } from './core-writes.js';
import { checkCoreId } from './validate.js';
import { type WriteBuffer, WriteBufferPool } from './write-buffers.js';

const MAX_SYNC_ROUNDS = 4;
/** A full write buffer held back during `reclaimBefore`, and the entries that end where it ends. */
type HeldBuffer = { readonly buffer: WriteBuffer; readonly entries: number };
/** Frame header + fixed entry fields (+ the u32 key length of a put): an empty delete's frame. */
const DELETE_OVERHEAD = coreEntryFrameSize({
  op: 'delete',
  key: new Uint8Array(0),
  coreId: 0,
  epoch: 0n,
  sequence: 0n,
  timestampNs: 0n,
});
const PUT_OVERHEAD = DELETE_OVERHEAD + 4;

/**
 * One core's (one worker's) log writer. It owns one file and is used from one thread, so the
 * write path takes no locks. Entries are encoded into a write buffer; the direct path writes
 * buffers when they fill and at `sync()`, the StorageIo path submits every entry at once.
 * `syncedPosition` is what a completed fdatasync covers — the position for checkpoint manifests.
 *
 * This class encodes entries and decides when to write and sync; the writes and syncs in
 * flight, the judging of their completions and the durable position are `CoreWrites`'.
 */
export class CoreWalWriter {
  readonly coreId: number;
  readonly path: string;

  private readonly io: StorageIo;
  private readonly ownsIo: boolean;
  private readonly lock: IoLock;
  private readonly writes: CoreWrites;
  private readonly stamp: MonotonicStamp;
  private readonly buffers: WriteBufferPool;
  private current: WriteBuffer;
  private pos: number;
  private seq: bigint;
  private epochValue: bigint;
  private entriesTotal = 0;
  private closed = false;
  private closing: Promise<void> | null = null;
  /** While `reclaimBefore` replaces the file: full buffers, written once the new file is in place. */
  private held: HeldBuffer[] | null = null;
  private syncChain: Promise<void> = Promise.resolve();
  /** `sync()` and `reclaimBefore()` calls running or queued: the StorageIo path waits for them. */
  private directSyncs = 0;

  private constructor(
    coreId: number,
    path: string,
    io: StorageIo,
    ownsIo: boolean,
    lock: IoLock,
    fd: IoFd,
    at: ResumePoint,
    options: CoreWalWriterOptions,
  ) {
    this.coreId = coreId;
    this.path = path;
    this.io = io;
    this.ownsIo = ownsIo;
    this.lock = lock;
    this.stamp = new MonotonicStamp(options.clock ?? wallClockNs, at.timestampNs);
    this.buffers = new WriteBufferPool(options.bufferSize ?? DEFAULT_CORE_BUFFER_SIZE);
    this.writes = new CoreWrites(io, fd, path, this.buffers, at.position);
    this.pos = at.position;
    this.seq = at.sequence;
    this.epochValue = at.epoch;
    this.current = this.buffers.take(at.position, 0);
  }

  /**
   * Creates a new core file (`WAL_BAD_STATE` if it exists): writes the 64-byte header
   * (fileKind 'core'), fsyncs the file and its directory. The writer holds the file's lock
   * (`<path>.lock`) until it is closed.
   */
  static async create(
    coreId: number,
    file: string | URL,
    options: CoreWalWriterOptions = {},
  ): Promise<CoreWalWriter> {
    checkCoreId(coreId);
    const path = pathOption(file, 'path');
    checkOptions(options);
    const { io, ownsIo } = ioOrOwned(options.io);
    let lock: IoLock | null = null;
    try {
      lock = await lockCoreFile(io, coreId, path);
      const fd = await createCoreFile(io, coreId, path);
      return new CoreWalWriter(coreId, path, io, ownsIo, lock, fd, HEADER_RESUME_POINT, options);
    } catch (error) {
      await lock?.release().catch(() => {});
      if (ownsIo) await io.closeIo();
      throw error;
    }
  }

  /**
   * Resumes an existing core file at `position`: validates every entry up to it (from the
   * header, or from `options.from`), cuts everything after it and fsyncs the cut, and restores
   * sequence, epoch and the last timestamp from the last entry. `WAL_CORRUPT` if `position` is
   * not the end of a valid entry; `WAL_LOCKED`, with nothing cut, while another writer (in
   * any process or thread) has the file open; `WAL_BAD_ARGUMENT` if the entries it would cut
   * are another core's.
   */
  static async openAt(
    coreId: number,
    file: string | URL,
    position: number,
    options: OpenAtOptions = {},
  ): Promise<CoreWalWriter> {
    return CoreWalWriter.resume(coreId, pathOption(file, 'path'), position, options, undefined);
  }

  /**
   * @internal `openAt` for a caller that knows the core ends at `position` (a handoff, a
   * core taken back): an entry of this core after it means another writer wrote on, and is
   * refused with `continued(position)`'s error, nothing cut.
   */
  static openAtKnownEnd(
    coreId: number,
    path: string,
    position: number,
    options: OpenAtOptions,
    continued: (position: number) => WalError,
  ): Promise<CoreWalWriter> {
    return CoreWalWriter.resume(coreId, path, position, options, continued);
  }

  private static async resume(
    coreId: number,
    path: string,
    position: number,
    options: OpenAtOptions,
    continued: ((position: number) => WalError) | undefined,
  ): Promise<CoreWalWriter> {
    checkCoreId(coreId);
    checkOptions(options);
    const from = options.from ?? HEADER_RESUME_POINT;
    if (!Number.isSafeInteger(position) || position < from.position)
      invalidArgument(
        `position must be an integer ≥ ${from.position} (the resume boundary), got ${position}`,
      );
    const { io, ownsIo } = ioOrOwned(options.io);
    let lock: IoLock | null = null;
    let fd: IoFd | null = null;
    try {
      lock = await lockCoreFile(io, coreId, path);
      fd = await io.open(path);
      const at = await resumeCoreFile(io, fd, coreId, path, position, from, continued);
      return new CoreWalWriter(coreId, path, io, ownsIo, lock, fd, at, options);
    } catch (error) {
      if (fd !== null) await io.close(fd).catch(() => {});
      await lock?.release().catch(() => {});
      if (ownsIo) await io.closeIo();
      throw error;
    }
  }

  /** Write position in bytes: the end of the last appended entry (includes unsynced data). */
  get position(): number {
    return this.pos;
  }

  /** Durable position: only bytes before it are guaranteed to survive a crash. */
  get syncedPosition(): number {
    return this.writes.synced;
  }

  /** Entries appended after `syncedPosition`. */
  get entriesSinceSync(): number {
    return this.entriesTotal - this.writes.entriesAtSynced;
  }

  get epoch(): bigint {
    return this.epochValue;
  }

  /** Sequence of the last appended entry (0n before the first). Sequences start at 1. */
  get sequence(): bigint {
    return this.seq;
  }

  /** True after a failed write or sync: every later call throws `WAL_POISONED`. */
  get poisoned(): boolean {
    return this.writes.failure !== null;
  }

  /** The boundary after the last appended entry (for `openAt(..., { from })`). */
  get resumePoint(): ResumePoint {
    return {
      position: this.pos,
      sequence: this.seq,
      epoch: this.epochValue,
      timestampNs: this.stamp.lastNs,
    };
  }

  /** Entries appended from now on carry `epoch`. Epochs never go back. */
  setEpoch(epoch: bigint): void {
    if (typeof epoch !== 'bigint' || epoch < this.epochValue || epoch >= 1n << 64n)
      invalidArgument(
        `epoch must be a bigint from the current epoch ${this.epochValue} up to 2^64-1, got ${String(epoch)}; epochs never go back`,
      );
    this.epochValue = epoch;
  }

  appendPut(key: Uint8Array, value: Uint8Array): number {
    // The size is known without a validation pass; encoding validates the entry anyway.
    const size = PUT_OVERHEAD + (key?.length ?? 0) + (value?.length ?? 0);
    return this.place(this.putEntry(key, value), size);
  }

  appendDelete(key: Uint8Array): number {
    return this.place(this.deleteEntry(key), DELETE_OVERHEAD + (key?.length ?? 0));
  }

  appendCheckpoint(checkpointId: bigint): number {
    return this.place({ op: 'checkpoint', checkpointId, ...this.stampless() });
  }

  /** Marks the start of the current epoch in this core's file. */
  appendEpochBarrier(): number {
    return this.place({ op: 'epochBarrier', ...this.stampless() });
  }

  appendCommit(offsets: Map<string, bigint>, watermark?: bigint): number {
    const head = this.stampless();
    return this.place(
      watermark === undefined
        ? { op: 'commit', offsets, ...head }
        : { op: 'commit', offsets, watermark, ...head },
    );
  }

  /**
   * Appends any operation. The writer assigns core id, epoch, sequence and timestamp (fields
   * of that name on `op` are ignored): those are the file's invariants, not the caller's.
   */
  append(op: CoreOp): number {
    switch (op?.op) {
      case 'put':
        return this.appendPut(op.key, op.value);
      case 'delete':
        return this.appendDelete(op.key);
      case 'checkpoint':
        return this.appendCheckpoint(op.checkpointId);
      case 'commit':
        return this.appendCommit(op.offsets, op.watermark);
      case 'epochBarrier':
        return this.appendEpochBarrier();
      default:
        invalidArgument(
          `op.op must be 'put', 'delete', 'checkpoint', 'commit' or 'epochBarrier', got ${String((op as { op?: unknown } | null)?.op)}`,
        );
    }
  }

  /** `appendPut`, then submits the entry's write at once (completion via `checkCompletions`). */
  appendPutViaStorageIo(key: Uint8Array, value: Uint8Array): number {
    this.assertNoDirectSync();
    const end = this.appendPut(key, value);
    this.writes.submit(this.current, false, this.entriesTotal);
    return end;
  }

  appendDeleteViaStorageIo(key: Uint8Array): number {
    this.assertNoDirectSync();
    const end = this.appendDelete(key);
    this.writes.submit(this.current, false, this.entriesTotal);
    return end;
  }

  appendViaStorageIo(op: CoreOp): number {
    this.assertNoDirectSync();
    const end = this.append(op);
    this.writes.submit(this.current, false, this.entriesTotal);
    return end;
  }

  /**
   * Writes everything appended and fdatasyncs; then `syncedPosition` is the position at the
   * call. Calls queue behind each other, so concurrent callers (a worker loop and a checkpoint
   * request) are safe. A failed write or sync throws and poisons the writer.
   */
  sync(): Promise<void> {
    return this.inTurn(() => this.syncDirect());
  }

  /**
   * Submits the appended bytes not yet submitted and an fdatasync chained behind them; flushes
   * the StorageIo and returns the sync's token. While a sync is pending a second call is
   * merged: it returns the pending token when that already covers `position`, otherwise it
   * chains another fdatasync behind the new writes (never rejected). While the rest of a
   * short write is in flight the sync is owed instead and goes out once it has landed: the
   * call returns -1, and `checkCompletions` reports the sync when it completes.
   */
  syncViaStorageIo(): number {
    this.assertUsable();
    this.assertNoDirectSync();
    this.writes.submit(this.current, false, this.entriesTotal);
    return this.writes.requestSync(this.pos);
  }

  /**
   * Feeds the completions of a `pollCompletions`/`waitCompletions` round (ones that are not
   * this writer's are ignored). Returns true when a pending sync completed. A short write is
   * partial progress: its rest is sent again, and a sync cancelled behind it is sent again
   * behind the rest, both to be fed here in a later round. A failed write or sync throws (and
   * poisons the writer): never a silent hole.
   */
  checkCompletions(completions: readonly IoCompletion[]): boolean {
    if (this.writes.failure !== null) throw this.poisonedError();
    return this.writes.take(completions, this.pos, this.entriesTotal);
  }

  /** True while a submitted sync has not completed. */
  get isSyncPending(): boolean {
    return this.writes.isSyncPending;
  }

  /**
   * Declares every byte written so far durable, for a caller that issued and awaited its own
   * fdatasync on this file. Only allowed when nothing is buffered or in flight
   * (`WAL_BAD_STATE` otherwise): it never covers bytes that were not written.
   */
  markSynced(): void {
    this.assertUsable();
    if (
      this.writes.hasPendingWrites ||
      this.current.submitted < this.current.used ||
      this.held !== null
    )
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `core ${this.coreId}: markSynced() with writes buffered or in flight; call sync() instead`,
      );
    this.writes.advanceTo(this.pos, this.pos, this.entriesTotal);
  }

  /**
   * Makes `[header, before)` hold no data, so the file system can free it: copies the header
   * and `[before, position)` into a new sparse file at the same offsets, fsyncs it, renames it
   * over the file and fsyncs the directory. Offsets (and manifests) stay valid; reading the
   * reclaimed range yields zeros. It takes its turn with `sync()` calls, syncing first;
   * appends go on meanwhile, and what they fill is written to the new file once it is in
   * place. Returns the bytes that no longer hold data.
   */
  reclaimBefore(before: number): Promise<number> {
    return this.inTurn(() => this.reclaimDirect(before));
  }

  /** `await using x = …` closes it when the scope ends, as `close()` does. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Syncs what was appended (unless poisoned), then closes the file, releases its lock (and
   * closes an owned StorageIo). Closing again, or while closing, waits for the same close.
   */
  close(): Promise<void> {
    if (this.closing === null) {
      this.closing = this.closeOnce();
      // A close that failed before closing anything (StorageIo work pending) may be retried.
      this.closing.catch(() => {
        if (!this.closed) this.closing = null;
      });
    }
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    const writes = this.writes;
    if (writes.failure === null && !writes.hasPendingWrites && !writes.isSyncPending)
      await this.sync();
    else if (writes.failure === null)
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `core ${this.coreId}: StorageIo writes or syncs are still pending; feed their completions to checkCompletions() before close()`,
      );
    this.closed = true;
    try {
      await writes.directWritesInFlight();
      await this.io.close(writes.fd);
    } finally {
      await this.lock.release();
      if (this.ownsIo) await this.io.closeIo();
    }
  }

  // Hot path: literal objects of one shape per op (no spreads) keep appends cheap.
  private putEntry(key: Uint8Array, value: Uint8Array): CoreEntry {
    return {
      op: 'put',
      key,
      value,
      coreId: this.coreId,
      epoch: this.epochValue,
      sequence: this.seq + 1n,
      timestampNs: 0n,
    };
  }

  private deleteEntry(key: Uint8Array): CoreEntry {
    return {
      op: 'delete',
      key,
      coreId: this.coreId,
      epoch: this.epochValue,
      sequence: this.seq + 1n,
      timestampNs: 0n,
    };
  }

  private stampless(): { coreId: number; epoch: bigint; sequence: bigint; timestampNs: bigint } {
    return {
      coreId: this.coreId,
      epoch: this.epochValue,
      sequence: this.seq + 1n,
      timestampNs: 0n,
    };
  }

  private place(entry: CoreEntry, knownSize?: number): number {
    this.assertUsable();
    const size = knownSize ?? coreEntryFrameSize(entry);
    let buffer = this.current;
    if (buffer.used + size > buffer.buf.length) buffer = this.rotate(size);
    entry.timestampNs = this.stamp.next();
    encodeCoreEntryFrame(buffer.buf, buffer.used, entry);
    buffer.used += size;
    this.seq = entry.sequence;
    this.pos += size;
    this.entriesTotal++;
    return this.pos;
  }

  /** Writes out the full buffer (direct path) and starts a new one with room for `size`. */
  private rotate(size: number): WriteBuffer {
    const old = this.current;
    if (this.held !== null) this.held.push({ buffer: old, entries: this.entriesTotal });
    else this.writeOut(old, this.entriesTotal);
    this.current = this.buffers.take(this.pos, size);
    return this.current;
  }

  /** Writes out a full buffer (direct path); `entries` end where it ends. */
  private writeOut(buffer: WriteBuffer, entries: number): void {
    const written = this.writes.submit(buffer, true, entries);
    if (written >= 0) this.writes.claimDirectWrite(written);
    buffer.retired = true;
    this.buffers.recycle(buffer);
  }

  /** Runs `job` after the `sync()` and `reclaimBefore()` calls before it. */
  private inTurn<T>(job: () => Promise<T>): Promise<T> {
    this.directSyncs++;
    const run = this.syncChain.then(job).finally(() => {
      this.directSyncs--;
    });
    this.syncChain = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async reclaimDirect(before: number): Promise<number> {
    await this.syncDirect();
    const writes = this.writes;
    const synced = writes.synced;
    if (!Number.isSafeInteger(before) || before < FILE_HEADER_SIZE || before > synced)
      invalidArgument(
        `reclaimBefore(${before}): must be an entry boundary between 64 and the synced position ${synced}; the tail is never reclaimed`,
      );
    if (before === FILE_HEADER_SIZE) return 0;
    // A write to the old file after the copy was taken would be lost with it: appends fill
    // buffers that are held back until the new file is in place.
    const held: HeldBuffer[] = [];
    this.held = held;
    // Taken now, before a buffer partly written can be held: nothing is submitted from here on.
    const written = this.current.fileOffset + this.current.submitted;
    try {
      await writes.settleDirectWrites();
      if (writes.failure !== null) throw this.poisonedError();
      const reopened = await rewriteSparse(this.io, writes.fd, this.path, before, written);
      await this.io.close(writes.fd);
      writes.fd = reopened;
      return before - FILE_HEADER_SIZE;
    } finally {
      this.held = null;
      for (const { buffer, entries } of held) this.writeOut(buffer, entries);
    }
  }

  private async syncDirect(): Promise<void> {
    this.assertUsable();
    const writes = this.writes;
    if (writes.storageIoPathPending)
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `core ${this.coreId}: StorageIo-path operations are pending; finish them with checkCompletions() (or use syncViaStorageIo) before sync()`,
      );
    const target = this.pos;
    for (let round = 0; writes.synced < target; round++) {
      if (round === MAX_SYNC_ROUNDS)
        throw new WalError(
          WalErrorCode.IO,
          `core ${this.coreId}: ${MAX_SYNC_ROUNDS} fdatasyncs completed before the writes they should cover; the StorageIo backend does not order chained operations`,
        );
      // A short write being repaired: its rest went out unlinked, so the fdatasync waits
      // until it has landed rather than run before it and behind later writes.
      if (writes.repairing) {
        await writes.settleDirectWrites();
        if (writes.failure !== null) throw this.failedError(writes.failure);
      }
      const written = writes.submit(this.current, true, this.entriesTotal);
      const sync = writes.submitSync(this.pos, true);
      if (written >= 0) writes.claimDirectWrite(written);
      const { completion, covered } = await writes.syncArrival(sync);
      // Settle the writes too (with their resends), so a failed write is reported as itself
      // rather than as the sync it cancelled. A sync that did not run was cancelled behind a
      // short write, and one that came back before a write did covers less than `target`:
      // the next round syncs again.
      await writes.settleDirectWrites();
      writes.onSyncCompletion(sync, completion, this.pos, this.entriesTotal, covered);
      if (writes.failure !== null) throw this.failedError(writes.failure);
    }
  }

  /** What the sync that met a failed write or sync throws: its code, and the writer's state. */
  private failedError(failure: WalError): WalError {
    const after = failure.code === WalErrorCode.NO_SPACE ? ' once space is free' : '';
    return new WalError(
      failure.code,
      `core ${this.coreId}: a write or sync of ${this.path} failed (${failure.message}); the writer is poisoned: nothing after syncedPosition ${this.writes.synced} is durable. Recover and reopen it with openAt${after}`,
      { cause: failure, details: { ...failure.details, segment: this.path } },
    );
  }

  private poisonedError(): WalError {
    const { failure, synced } = this.writes;
    return WalError.poisoned(
      `core ${this.coreId}: an earlier write or sync of ${this.path} failed (${failure?.message}); nothing after syncedPosition ${synced} is durable. Recover and reopen the writer with openAt.`,
      failure,
      { segment: this.path, offset: synced },
    );
  }

  private assertUsable(): void {
    if (this.closed) throw WalError.closed(`core ${this.coreId}: the writer`);
    if (this.writes.failure !== null) throw this.poisonedError();
  }

  /**
   * The StorageIo path waits for `sync()` calls to finish: a StorageIo-path fdatasync running
   * beside a direct one could take the writeback error of bytes the direct one covers (Linux
   * hands a file's error to one of the syncs that check it), and the direct one, never held
   * back, would then report them durable (decision 0501).
   */
  private assertNoDirectSync(): void {
    if (this.directSyncs > 0)
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `core ${this.coreId}: sync() or reclaimBefore() is in progress; await it before using the StorageIo path`,
      );
  }
}
