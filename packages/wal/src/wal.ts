import {
  badArgument,
  isBytes,
  isWalError,
  recordInputBytes,
  WalError,
  WalErrorCode,
  type WalRecord,
  type WalRecordInput,
} from '@walnut/codec';
import type {
  RecoveryReport,
  SegmentInfo,
  SuffixCuts,
  TruncateAfterResult,
} from '@walnut/segmented';
import { Batch } from './batch.js';
import type { Cursor } from './cursors/cursor.js';
import type { CursorInfo, CursorRegistry } from './cursors/cursor-registry.js';
import type { LogEngine } from './engine.js';
import type { AppendQueue } from './internal/append/append-queue.js';
import { payloadListBytes } from './internal/append/payload-list.js';
import { announceOpen } from './internal/channels.js';
import type { GroupCommit } from './internal/commit/group-commit.js';
import { LatencyHistogram } from './internal/commit/latency-histogram.js';
import type { FailureHandling } from './internal/lifecycle/failure-handling.js';
import type { Shutdown } from './internal/lifecycle/shutdown.js';
import type { CutRun } from './internal/lifecycle/suffix-cut.js';
import type { WalStatus } from './internal/lifecycle/wal-status.js';
import type { ReadSide, TailOptions } from './internal/read/read-side.js';
import { badPayloadError, closedError, readOnlyError } from './internal/refusals.js';
import { startRetention } from './internal/wal-retention.js';
import { wireWal } from './internal/wal-wiring.js';
import type { Durability, WalRuntimeOptions } from './options.js';
import type { WalIterator } from './read-records.js';
import type { Retention, RetentionReport } from './retention/retention.js';
import type { RetentionOptions } from './retention/retention-options.js';
import { type SideFileRange, SideFiles } from './side-files.js';
import { WalBuilder } from './wal-builder.js';
import {
  backendOf,
  newCounters,
  statsSnapshot,
  type WalCounters,
  type WalState,
  type WalStats,
} from './wal-stats.js';

export interface AppendBatchOptions {
  /** The LSN the batch must start at; WAL_LSN_MISMATCH (nothing appended) otherwise. */
  readonly firstLsn?: bigint;
}

/**
 * The write-ahead log most users want: many concurrent appenders, group commit, a
 * byte-bounded queue, a clear lifecycle, and readers that replay or follow the log.
 * Create it with `await Wal.open(dir).build()`.
 */
export class Wal {
  /**
   * Starts configuring a log in `dir` (created if missing): a path, or a `file:` URL. Call
   * `build()` to open it.
   */
  static open(dir: string | URL): WalBuilder {
    return new WalBuilder(dir);
  }

  readonly dir: string;
  private readonly engine: LogEngine;
  private readonly options: WalRuntimeOptions;
  private readonly waitsForCommit: boolean;
  private readonly status: WalStatus;

  private readonly latency = new LatencyHistogram();
  private readonly queue: AppendQueue;
  private readonly reads: ReadSide;
  /** The log's suffix cuts: its own, or a read-only engine's (the writer's, as found). */
  private readonly cuts: SuffixCuts;
  private readonly cursorRegistry: CursorRegistry;
  private retention: Retention | undefined;

  private readonly commit: GroupCommit;
  private readonly failures: FailureHandling;
  private readonly ending: Shutdown;
  private readonly cutRun: CutRun;
  /** Stops following the engine's events. */
  private readonly unsubscribe: () => void;

  private readonly counters: WalCounters = newCounters();
  private readonly sideFiles: SideFiles;

  /** @internal Use `Wal.open(dir).build()`. */
  constructor(dir: string, engine: LogEngine, options: WalRuntimeOptions) {
    this.dir = dir;
    this.engine = engine;
    this.options = options;
    this.waitsForCommit = options.durability === 'sync' || options.durability === 'flush';
    const parts = wireWal(dir, engine, options, {
      counters: this.counters,
      latency: this.latency,
      retentionCutting: () => this.retention?.cutting,
      durable: (durable) => this.onDurable(durable),
      sync: () => this.sync(),
      release: () => this.releaseEngine(),
    });
    this.status = parts.status;
    this.queue = parts.queue;
    this.commit = parts.commit;
    this.failures = parts.failures;
    this.ending = parts.ending;
    this.reads = parts.reads;
    this.cuts = parts.cuts;
    this.cutRun = parts.cutRun;
    this.cursorRegistry = parts.cursorRegistry;
    this.unsubscribe = parts.unsubscribe;
    this.sideFiles = new SideFiles(engine.io, dir, this.status, options.readOnly);
  }

  /** @internal Called by the builder once the engine is open. */
  start(retention?: RetentionOptions): this {
    this.status.state = 'running';
    const backend = backendOf(this.engine, this.options.backendChoice);
    announceOpen(this.dir, this.options.readOnly, this.engine, backend);
    if (retention) {
      this.retention = startRetention(this.dir, this.engine, this.cursorRegistry, retention, () =>
        this.status.poisonedError(),
      );
    }
    if (this.options.durability === 'interval')
      this.commit.startInterval(this.options.syncIntervalMs);
    return this;
  }

  get state(): WalState {
    return this.status.state;
  }

  /**
   * What opening the log found and did: a torn tail cut (or, read-only, found), damaged
   * data dropped by `recovery('salvage')` and where each part went, leftovers removed.
   * Set for as long as the Wal exists, closed or not.
   */
  get recovery(): RecoveryReport {
    return this.engine.recoveryReport;
  }

  get durability(): Durability {
    return this.options.durability;
  }

  /**
   * The last LSN handed out (appended; not necessarily written or durable). 0n when empty.
   * Read-only: the last record found in the log (see `readOnly()`).
   */
  get lastLsn(): bigint {
    return this.options.readOnly ? this.engine.nextLsn - 1n : this.queue.lastAssigned;
  }

  /** Opened with `readOnly()`. */
  get readOnly(): boolean {
    return this.options.readOnly;
  }

  /**
   * Every record up to this LSN is durable. Read-only: every record this reader made sure
   * is on stable storage (it cannot see the writer's fdatasyncs, so it issues its own).
   */
  get durableLsn(): bigint {
    return this.engine.durableLsn;
  }

  /** The lowest LSN still retained (replay below it fails with WAL_REPLAY_BELOW_FLOOR). */
  get floorLsn(): bigint {
    return this.engine.floorLsn;
  }

  /**
   * Appends one record; resolves with its LSN once the durability mode is satisfied.
   * The payload is copied into the write buffer during this call, so the caller may reuse
   * it as soon as `append` returns. LSN order is call order.
   */
  append(payload: Uint8Array, meta?: Uint8Array): Promise<bigint> {
    const refusal = this.status.appendRefusal();
    if (refusal) return Promise.reject(refusal);
    if (!isBytes(payload) || (meta !== undefined && !isBytes(meta))) {
      return Promise.reject(badPayloadError('append', payload, meta));
    }
    if (meta === undefined) return this.appendOne(null, payload, payload.length);
    return this.appendOne({ payload, meta }, payload, payload.length + meta.length);
  }

  /**
   * Appends one record without waiting for anything and returns its LSN at once — for hot
   * loops that should not pay a promise per record. The record is in the write buffer:
   * the background commit hands it to the OS (and, in `'sync'`, makes it durable); call
   * `sync()` to know it is durable. LSN order is call order, shared with `append`.
   * Throws what `append` would reject with, and `WAL_BACKPRESSURE` when the queue is full
   * or appends are waiting for room (it cannot wait; use `append`, or `sync()` first).
   */
  appendQueued(payload: Uint8Array, meta?: Uint8Array): bigint {
    const refusal = this.status.appendRefusal();
    if (refusal) throw refusal;
    if (!isBytes(payload) || (meta !== undefined && !isBytes(meta))) {
      throw badPayloadError('appendQueued', payload, meta);
    }
    const bytes = payload.length + (meta === undefined ? 0 : meta.length);
    if (this.queue.mustQueue(bytes)) {
      this.counters.rejected++;
      throw new WalError(
        WalErrorCode.BACKPRESSURE,
        `the append queue is full (maxQueueBytes ${this.options.maxQueueBytes}): await sync() (or use append(), which waits for room) and retry`,
      );
    }
    let lsn: bigint;
    try {
      lsn =
        meta === undefined
          ? this.engine.appendPayload(payload)
          : this.engine.append({ payload, meta });
    } catch (error) {
      throw this.failures.appendFailed(error);
    }
    this.counters.appends++;
    this.counters.records++;
    const queue = this.queue;
    queue.assigned(lsn, bytes);
    queue.lastHandedOut = lsn;
    this.commit.kick();
    return lsn;
  }

  /**
   * Appends each payload as its own record, in order, with consecutive LSNs, and resolves
   * with the last LSN once the durability mode is satisfied for all of them: the bulk path,
   * one call, one promise and one booking in the queue for the whole list where a loop of
   * `append` pays for each record. Not atomic: after a crash each record stands alone, so a
   * prefix of the list may survive (`appendBatch` is all or nothing). Every payload is
   * checked first: a refused list appends nothing. The payloads are copied during the call
   * (or, while the queue is full, into the waiting append), so the list and its buffers may
   * be reused as soon as `appendMany` returns.
   */
  appendMany(payloads: readonly Uint8Array[]): Promise<bigint> {
    const refusal = this.status.appendRefusal();
    if (refusal) return Promise.reject(refusal);
    let bytes: number;
    try {
      bytes = payloadListBytes(payloads);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.queue.mustQueue(bytes))
      return this.queue.enqueueBlocked({ kind: 'payloads', payloads }, bytes);
    let lsn: bigint;
    try {
      lsn = this.engine.appendPayloads(payloads);
    } catch (error) {
      return Promise.reject(this.failures.appendFailed(error));
    }
    this.counters.appends += payloads.length;
    this.counters.records += payloads.length;
    return this.queue.accepted(lsn, bytes);
  }

  /** Appends a record with routing fields or a record type (see `WalRecordInput`). */
  appendRecord(record: WalRecordInput): Promise<bigint> {
    const refusal = this.status.appendRefusal();
    if (refusal) return Promise.reject(refusal);
    let bytes: number;
    try {
      bytes = recordInputBytes(record);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.appendOne(record, record.payload, bytes);
  }

  /** `record` null: a payload alone, appended without a record object (`appendPayload`). */
  private appendOne(
    record: WalRecordInput | null,
    payload: Uint8Array,
    bytes: number,
  ): Promise<bigint> {
    if (this.queue.mustQueue(bytes))
      return this.queue.enqueueBlocked({ kind: 'record', record: record ?? { payload } }, bytes);
    let lsn: bigint;
    try {
      lsn = record === null ? this.engine.appendPayload(payload) : this.engine.append(record);
    } catch (error) {
      return Promise.reject(this.failures.appendFailed(error));
    }
    this.counters.appends++;
    this.counters.records++;
    return this.queue.accepted(lsn, bytes);
  }

  /**
   * Appends every record of `batch` atomically (one frame: after a crash all of them are
   * there or none). Resolves with the last LSN; the batch's LSNs are consecutive.
   * `options.firstLsn`: the batch must start at exactly this LSN, else it rejects with
   * WAL_LSN_MISMATCH and appends nothing (a replica writing a primary's records at their
   * own LSNs; checked when the batch is encoded, after any wait for queue room).
   */
  appendBatch(batch: Batch, options?: AppendBatchOptions): Promise<bigint> {
    const refusal = this.status.appendRefusal();
    if (refusal) return Promise.reject(refusal);
    let records: readonly WalRecordInput[];
    const firstLsn = options?.firstLsn;
    try {
      if (firstLsn !== undefined && typeof firstLsn !== 'bigint') {
        badArgument('options.firstLsn', 'a bigint LSN', firstLsn);
      }
      if (!Batch.isBatch(batch)) {
        badArgument('appendBatch(batch)', 'a Batch (new Batch().add(payload).add(…))', batch);
      }
      records = batch.take();
    } catch (error) {
      return Promise.reject(error);
    }
    const bytes = batch.byteLength;
    if (this.queue.mustQueue(bytes))
      return this.queue.enqueueBlocked({ kind: 'batch', batch: records, firstLsn }, bytes);
    let lsn: bigint;
    try {
      lsn = this.engine.appendBatch(records, firstLsn);
    } catch (error) {
      return Promise.reject(this.failures.appendFailed(error));
    }
    this.counters.batches++;
    this.counters.records += records.length;
    return this.queue.accepted(lsn, bytes);
  }

  /** Everything appended so far is written to the OS (no fsync). Resolves with that LSN. */
  async flush(): Promise<bigint> {
    this.status.throwIfUnusable();
    this.throwIfReadOnly('flush()');
    await this.queue.waitUntilUnblocked();
    let written: bigint;
    try {
      written = await this.engine.flush();
    } catch (error) {
      this.failures.engineFailed(error);
      throw error;
    }
    this.counters.flushes++;
    if (this.options.durability === 'flush') this.queue.settle(written);
    return written;
  }

  /** Everything appended so far is durable. Resolves with `durableLsn`. */
  async sync(): Promise<bigint> {
    this.status.throwIfUnusable();
    this.throwIfReadOnly('sync()');
    await this.queue.waitUntilUnblocked();
    try {
      return await this.commit.sync();
    } catch (error) {
      // A full disk that took records this log had acknowledged ('none', 'interval') has
      // poisoned it: that is the news, not the engine's "none was acknowledged".
      const poisoned = this.status.poisonedError();
      if (poisoned !== undefined && isWalError(error, WalErrorCode.NO_SPACE)) throw poisoned;
      throw error;
    }
  }

  /** Deletes whole segments below `lsn` (a checkpoint); replay below the new floor fails. */
  truncateBefore(lsn: bigint): Promise<{ segmentsDeleted: number; bytesReclaimed: number }> {
    const refusal = this.status.closed
      ? closedError()
      : this.options.readOnly
        ? readOnlyError('truncateBefore()')
        : this.status.poisonedError();
    if (refusal) return Promise.reject(refusal);
    return this.engine.truncateBefore(lsn);
  }

  /** Replaces side file `name` (`myapp.state`): a power cut leaves the old bytes or the new. */
  writeSideFile(name: string, bytes: Uint8Array): Promise<void> {
    return this.sideFiles.write(name, bytes);
  }

  /** Writes `bytes` into side file `name` at `offset`, durably; a cut may leave part of them. */
  writeSideFileAt(name: string, offset: number, bytes: Uint8Array): Promise<void> {
    return this.sideFiles.writeAt(name, offset, bytes);
  }

  /** Side file `name`'s bytes, or those of `range`; undefined when there is none. */
  readSideFile(name: string, range?: SideFileRange): Promise<Buffer | undefined> {
    return this.sideFiles.read(name, range);
  }

  /** Removes side file `name`; resolves with whether it was there. */
  removeSideFile(name: string): Promise<boolean> {
    return this.sideFiles.remove(name);
  }

  /**
   * Cuts the log after `lsn` durably (docs/decisions/0640-wal-truncate-after.md): the
   * records after it are gone and the next append gets `lsn + 1`. Appends made before the
   * call are made durable (and resolve) first; appends made while it runs are refused with
   * WAL_BAD_STATE. Iterators and tails that handed out a record above `lsn` fail with
   * WAL_TRUNCATED at their next step instead of going on in the new history. From
   * `floorLsn - 1` (every record) to `lastLsn`; not inside an atomic batch.
   */
  async truncateAfter(lsn: bigint): Promise<TruncateAfterResult> {
    this.status.throwIfUnusable();
    this.throwIfReadOnly('truncateAfter()');
    return this.cutRun.run(lsn);
  }

  /**
   * Calls `fn` for every record with LSN ≥ `from` (a bigint; 1n or 0n for the whole log,
   * anything else WAL_BAD_ARGUMENT), in order, up to the last record written
   * when replay started (call `flush()` first to include everything appended). Sealed
   * segments are read through a memory map; payloads are views valid as long as you keep
   * them. An async `fn` is awaited. Read-only: up to the last record the writer had
   * written when replay started.
   */
  replay(from: bigint, fn: (record: WalRecord) => void | Promise<void>): Promise<void> {
    return this.reads.replay(from, fn);
  }

  /**
   * Pull-based replay: an async iterator over the records with LSN ≥ `from` (see `replay`).
   * Records come from chunks read ahead, one already-resolved promise each. The iterator's
   * result objects are reused (read `value` before the next `next()`, as `for await` does);
   * the records and their payloads are yours to keep. `skipTo(lsn)` moves it ahead without
   * handing out the records between (see `WalIterator`).
   */
  iterator(from: bigint): WalIterator {
    return this.reads.iterator(from);
  }

  /**
   * Yields every record with LSN ≥ `from`, then waits for new ones: what the durability mode
   * acknowledges (durable records under `'sync'`, records written to the OS under the other
   * modes), or only durable ones with `{ durableOnly: true }`. Ends when the log closes;
   * once `signal` aborts, rejects with its reason (an AbortError unless `abort(reason)` gave
   * another), as Node's own APIs do; throws if the log is poisoned.
   * Read-only: follows what a writer (another process, or this one) appends, looking every
   * `TAIL_POLL_MS` (50 ms); a record is yielded once its frame is whole, its CRC checks and
   * this reader has made it durable; throws what `refresh` of the segmented engine throws
   * (WAL_CORRUPT if the writer cut records already yielded, WAL_REPLAY_BELOW_FLOOR if a
   * truncation removed records not yet yielded).
   */
  tail(from: bigint, options?: TailOptions): AsyncIterableIterator<WalRecord> {
    return this.reads.tail(from, options);
  }

  /**
   * Opens durable cursor `name` (creating it at the first LSN still kept minus one): a
   * consumer position kept crash-safely in the log directory, honoured by retention. Works
   * on a read-only Wal too, in another process; one holder at a time (WAL_CURSOR_IN_USE).
   */
  cursor(name: string): Promise<Cursor> {
    return this.cursorRegistry.cursor(name);
  }

  /** Every durable cursor of the log (of any process): name, committed LSN, behind, open here. */
  cursors(): Promise<CursorInfo[]> {
    return this.cursorRegistry.list();
  }

  /**
   * Deletes durable cursor `name` (it stops holding retention); true if it existed. A cursor
   * this Wal holds is closed first (its commits on disk finish; later ones are WAL_CLOSED);
   * one another Wal or process holds is refused with WAL_CURSOR_IN_USE.
   */
  deleteCursor(name: string): Promise<boolean> {
    return this.cursorRegistry.delete(name);
  }

  /**
   * Runs a retention pass now (after the one running, if any) and resolves with what it
   * deleted and why. WAL_BAD_STATE without `retention()`.
   */
  applyRetention(): Promise<RetentionReport> {
    const refusal = this.status.closed ? closedError() : this.status.poisonedError();
    if (refusal) return Promise.reject(refusal);
    if (!this.retention) {
      return Promise.reject(
        new WalError(
          WalErrorCode.BAD_STATE,
          'no retention is configured; open the log with Wal.open(dir).retention({ maxBytes }) (or call truncateBefore yourself)',
        ),
      );
    }
    return this.retention.pass();
  }

  private throwIfReadOnly(what: string): void {
    if (this.options.readOnly) throw readOnlyError(what);
  }

  /** A point-in-time snapshot of counters, queue, latency, backend and LSNs. */
  stats(): WalStats {
    const queue = this.queue;
    return statsSnapshot(this.engine, this.counters, this.latency, {
      state: this.status.state,
      readOnly: this.options.readOnly,
      durability: this.options.durability,
      queueBytes: queue.bytesAppended - queue.bytesSettled,
      maxQueueBytes: this.options.maxQueueBytes,
      pendingAppends: queue.waiters.count(),
      blockedAppends: queue.blocked.size,
      backendChoice: this.options.backendChoice,
      lastLsn: this.lastLsn,
      poisoned: this.status.poison !== undefined,
      retention: this.retention?.stats() ?? null,
      cursorCommits: {
        rounds: this.cursorRegistry.rounds.rounds,
        filesWritten: this.cursorRegistry.rounds.filesWritten,
        filesReplaced: this.cursorRegistry.rounds.filesReplaced,
      },
    });
  }

  /**
   * The first LSN whose record's append time (`WalRecord.time`, ms since the epoch) is ≥ `t`:
   * the first LSN the log keeps when every record is, the LSN after the last written record
   * when none is. Reads a bounded amount (a first frame per step of a binary search over
   * the segments, then one segment or, once its time index is built, a stretch of it),
   * never the whole log. Records of format version 1 have
   * no time: within their span the answer is their segment's first LSN, never a later one.
   * Also on read-only opens. WAL_BAD_ARGUMENT for a `t` that is not a finite number ≥ 0.
   */
  async lsnAtTime(t: number): Promise<bigint> {
    const engine = this.engine;
    if (engine.lsnAtTime === undefined)
      throw new WalError(WalErrorCode.BAD_STATE, "this log's engine keeps no record times");
    if (this.options.readOnly) await this.reads.catchUp();
    return engine.lsnAtTime(t);
  }

  /**
   * The segment files, oldest first: path, first/last LSN, `sizeBytes` on disk,
   * `writtenBytes`, sealed or active, and whether (and with which key id) it is encrypted.
   */
  async segments(): Promise<readonly SegmentInfo[]> {
    if (this.options.readOnly) await this.reads.catchUp();
    return this.engine.listSegments();
  }

  /**
   * Graceful stop: new appends fail with WAL_CLOSING, queued appends are written, one
   * final fdatasync covers them, then the log closes. If that does not finish within
   * `timeoutMs`, this rejects with WAL_TIMEOUT and the log is back to `'running'` —
   * consistent and usable (retry, or `close()`). `options.signal`: once it aborts, the
   * shutdown stops waiting as at the deadline and rejects with the signal's reason (an
   * AbortError unless `abort(reason)` gave another). Idempotent.
   */
  shutdown(timeoutMs = 30_000, options?: { readonly signal?: AbortSignal }): Promise<void> {
    return this.ending.shutdown(timeoutMs, options?.signal);
  }

  /** `await using x = …` closes it when the scope ends, as `close()` does. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Immediate stop: nothing more is synced, tails end, and every append not yet
   * acknowledged is rejected. With WAL_CLOSED when it will never be in the log (its bytes
   * had not left this process: they are dropped); with WAL_OUTCOME_UNKNOWN and
   * `details.lsn` when they had gone to the OS, or must be written because a record after
   * them was already acknowledged or handed out (`'none'`, `'interval'`, `appendQueued`):
   * such records are written, never synced. Resolves once the files and the lock are
   * released. Idempotent.
   */
  close(): Promise<void> {
    return this.ending.close();
  }

  private onDurable(durable: bigint): void {
    if (!this.options.readOnly) this.commit.countSync(durable);
    if (this.status.closed) return;
    if (this.waitsForCommit) this.queue.settle(durable);
    this.reads.wake();
    this.retention?.progressed(this.engine.activeSegmentFirstLsn, durable);
  }

  private async releaseEngine(): Promise<void> {
    // A cut under way finishes first: its files are the engine's, which closes below.
    await this.cutRun.settled();
    await this.retention?.stop();
    await this.cursorRegistry.close();
    for (let commit = this.commit.running(); commit; commit = this.commit.running()) await commit;
    const backgroundSync = this.commit.backgroundSyncRunning();
    if (backgroundSync) await backgroundSync;
    this.unsubscribe();
    try {
      await this.engine.close();
    } finally {
      if (this.options.ownedIo) await this.options.ownedIo.closeIo();
    }
  }
}
