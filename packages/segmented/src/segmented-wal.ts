import {
  badArgument,
  jsonReady,
  type KeyRing,
  type WalError,
  type WalRecord,
  type WalRecordInput,
} from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { Appends } from './appends.js';
import { isKeyRing, type ResolvedConfig, type SegmentedWalConfig } from './config.js';
import { SuffixCuts } from './cut/suffix-cuts.js';
import {
  type CutHost,
  carryCounters,
  checkCutPoint,
  cutAfter,
  cutRunningError,
  type TruncateAfterResult,
} from './cut/truncate-after.js';
import { hasRecords } from './files/segment.js';
import { Listeners } from './listeners.js';
import { type OpenedLog, openLog, reopenedLog } from './open.js';
import { checkTime, type TimeLookup } from './read/lsn-at-time.js';
import type { ReaderRefresh } from './read/reader-refresh.js';
import type { ReplayPager } from './read/replay-pager.js';
import type { RecoveryReport } from './recovery/recovery-report.js';
import { checkRingChange } from './recovery/ring-change.js';
import { closeLog } from './settle.js';
import {
  checkLsnArgument,
  checkNotBelowFloor,
  closedError,
  droppedError,
  readOnlyError,
  refreshOnWriter,
  ringTooLate,
} from './usage-errors.js';
import {
  buildCutHost,
  buildParts,
  buildReaders,
  type Parts,
  planActive,
  prepareActiveSegment,
} from './wiring.js';
import type { Failures } from './write/failures.js';
import type { SegmentInfo, SegmentSet, TruncateResult } from './write/segment-set.js';
import { type SegmentedWalStats, statsOf } from './write/stats.js';
import type { SyncRounds } from './write/sync-rounds.js';
import { TruncationQueue } from './write/truncation-queue.js';
import type { WritePipeline } from './write/write-pipeline.js';

export type { TruncateAfterResult } from './cut/truncate-after.js';
export type { SegmentInfo, TruncateResult } from './write/segment-set.js';
export { SPARE_FILE_PREFIX } from './write/segment-set.js';
export type { SegmentedWalStats } from './write/stats.js';

/**
 * A write-ahead log kept as a directory of segment files, written through a StorageIo.
 *
 * Appends are synchronous: a record is validated, given its LSN and encoded into the
 * write buffer; full buffers go to the StorageIo at once and many writes can be in
 * flight. `sync()` makes everything appended before it durable, sharing one fdatasync
 * among concurrent callers while the next group fills. See README.md for the rules.
 *
 * The front of five parts (docs/decisions/0330-segmented-wal-seams.md): the write
 * pipeline (buffer and writes), the segment set (files), sync rounds (flush and sync),
 * failure handling (poison and rollback) and replay paging. It checks each call and hands
 * it on: appends to Appends (the encoding into the pipeline's buffer), a read-only
 * opener's refresh and the truncations to ReaderRefresh, TruncationQueue and cutAfter,
 * which act on several parts; wiring.ts connects them.
 */
export class SegmentedWal {
  private readonly cfg: ResolvedConfig;
  private readonly storageIo: StorageIo;
  /** What open() found and holds: the lock, whether the StorageIo is the log's own, the report. */
  private readonly opened: OpenedLog;
  // The parts are built anew when truncateAfter reopens the log under its lock (install);
  // the ones the front reads often are fields of their own (the appends' are Appends').
  private parts!: Parts;
  private pipeline!: WritePipeline;
  private segments!: SegmentSet;
  private failures!: Failures;
  private rounds!: SyncRounds;
  private pager!: ReplayPager;
  private appends!: Appends;
  private readonly durableListeners = new Listeners<[lsn: bigint]>('onDurable');
  private readonly writtenListeners = new Listeners<[lsn: bigint]>('onWritten');
  private readonly completedListeners = new Listeners<[lsn: bigint]>('onWriteCompleted');
  private ring: KeyRing | undefined;
  private truncations!: TruncationQueue;
  private readonly cuts = new SuffixCuts();
  /** True while truncateAfter runs: appends are refused until it ends. */
  private cutting = false;
  /** Null on a writer: it knows its own log. */
  private readonly readerRefresh: ReaderRefresh | null;
  private readonly timeLookup: TimeLookup;
  private readonly cutHost: CutHost;
  private closed = false;
  private closing: Promise<void> | null = null;

  private constructor(init: OpenedLog) {
    this.cfg = init.cfg;
    this.storageIo = init.io;
    this.opened = init;
    this.ring = init.cfg.encryption;
    this.install(init);
    const readers = buildReaders(init, {
      parts: () => this.parts,
      ring: () => this.ring,
      cuts: this.cuts,
      replayFrom: (lsn) => this.replayFrom(lsn),
      checkUsable: () => this.checkUsable(),
      written: (lsn) => this.writtenListeners.emit(lsn),
    });
    this.timeLookup = readers.timeLookup;
    this.readerRefresh = readers.refresh;
    this.cutHost = buildCutHost(init, {
      parts: () => this.parts,
      ring: () => this.ring,
      cuts: this.cuts,
      truncations: () => this.truncations,
      sync: () => this.sync(),
      reopen: async (recovered) => {
        const before = this.parts.counters;
        this.install(reopenedLog(this.opened, this.segments.clock, recovered));
        carryCounters(before, this.parts.counters);
        await this.startWriting();
      },
    });
  }

  /** Builds the parts of the log `init` describes and makes them this log's. */
  private install(init: OpenedLog): void {
    const parts = buildParts(init, {
      closed: () => this.closed,
      ring: () => this.ring,
      written: (lsn) => {
        if (this.writtenListeners.size > 0) this.writtenListeners.emit(lsn);
      },
      completed: (lsn) => {
        if (this.completedListeners.size > 0) this.completedListeners.emit(lsn);
      },
      durable: (lsn) => this.durableListeners.emit(lsn),
    });
    this.parts = parts;
    this.pipeline = parts.pipeline;
    this.segments = parts.segments;
    this.failures = parts.failures;
    this.rounds = parts.rounds;
    this.pager = parts.pager;
    this.truncations = new TruncationQueue(this.segments, () => this.checkUsable());
    this.appends = new Appends(
      this.cfg,
      parts,
      () => this.ring,
      (what) => this.checkWritable(what),
    );
  }

  /**
   * Opens (or, unless read-only, creates) the log in `config.dir` and recovers it: see
   * README.md "Recovery on open". A writer holds `<dir>/LOCK` until `close()`.
   */
  static async open(config: SegmentedWalConfig): Promise<SegmentedWal> {
    const opened = await openLog(config);
    try {
      const wal = new SegmentedWal(opened);
      if (!opened.cfg.readOnly) await wal.startWriting();
      return wal;
    } catch (err) {
      await opened.release();
      throw err;
    }
  }

  /** Makes the active segment ready for appends and opens the spare file ahead. */
  private async startWriting(): Promise<void> {
    await prepareActiveSegment(this.parts, this.storageIo, this.ring);
    this.segments.prepareSpare();
    await this.segments.spareReady();
  }

  /** The LSN the next append will get. */
  get nextLsn(): bigint {
    return this.pipeline.nextLsn;
  }

  /** Every record up to this LSN was written to the OS (not necessarily durable). */
  get writtenLsn(): bigint {
    return this.pipeline.writtenLsn;
  }

  /** Every record up to this LSN is durable (a completed fdatasync covered it). */
  get durableLsn(): bigint {
    return this.rounds.durableLsn;
  }

  /**
   * Records up to this LSN may be in the files: a write holding them was handed to the
   * StorageIo (completed or not; a failed one may have left some of its bytes). No record
   * after it is: those are still in the write buffer or queued in this process.
   */
  get submittedLsn(): bigint {
    return this.pipeline.submittedLsn;
  }

  get activeSegmentFirstLsn(): bigint {
    const list = this.segments.list;
    return list[list.length - 1]?.firstLsn ?? this.pipeline.nextLsn;
  }

  get walDir(): string {
    return this.cfg.dir;
  }

  /** Records below this LSN were truncated on purpose; replay from below it is an error. */
  get floorLsn(): bigint {
    return this.segments.floorLsn;
  }

  /** What open() found, cut and dropped. */
  get recoveryReport(): RecoveryReport {
    return this.opened.report;
  }

  /**
   * The suffix cuts this log knows of: its own truncateAfter calls, and on a read-only opener
   * the writer's cuts its refreshes found. A reader built on the log judges itself by them.
   */
  get suffixCuts(): SuffixCuts {
    return this.cuts;
  }

  get encryptionRing(): KeyRing | undefined {
    return this.ring;
  }

  get io(): StorageIo {
    return this.storageIo;
  }

  stats(): SegmentedWalStats {
    return statsOf(this.parts, this.opened.directIo);
  }

  /**
   * Takes in, now, the completions of writes that already finished (see
   * `StorageIo.reapCompletions`): `writtenLsn` advances and their buffers return to the pool
   * without waiting for the event loop. For a caller that appends in a loop without yielding.
   */
  reapCompletions(): void {
    if (!this.closed) this.storageIo.reapCompletions();
  }

  /**
   * True while the next segment's spare file was asked for and not taken in: a caller that
   * never yields should call `reapCompletions()` before it appends on, or with segments
   * smaller than what it appends between reaps the next rollover finds no file, and that
   * segment's writes wait for the event loop (docs/decisions/0211).
   */
  get wantsReap(): boolean {
    return this.segments.spareComing;
  }

  /** Calls `listener` whenever durableLsn advances. Returns the function that unsubscribes. */
  onDurable(listener: (durableLsn: bigint) => void): () => void {
    return this.durableListeners.add(listener);
  }

  /**
   * Calls `listener` whenever writtenLsn advances (a write reached the OS, into a file under
   * its own name, so it outlives a crash of the process). Returns the function that unsubscribes.
   */
  onWritten(listener: (writtenLsn: bigint) => void): () => void {
    return this.writtenListeners.add(listener);
  }

  /**
   * Calls `listener` whenever the writes up to an LSN have completed, their bytes out of
   * memory: ahead of writtenLsn while a new segment waits for its name. For accounting of
   * memory (the Wal's queue); a promise to a caller waits for onWritten. Returns the
   * function that unsubscribes.
   */
  onWriteCompleted(listener: (completedLsn: bigint) => void): () => void {
    return this.completedListeners.add(listener);
  }

  /**
   * Calls `listener` when a write that failed for lack of space was rolled back: the log
   * now ends at `lastLsn` (nextLsn went back to `lastLsn + 1`), and `error` names the
   * records lost, none of them acknowledged. Returns the function that unsubscribes.
   */
  onRollback(listener: (lastLsn: bigint, error: WalError) => void): () => void {
    return this.failures.rollbackListeners.add(listener);
  }

  private checkUsable(): void {
    if (this.closed) throw closedError();
    if (this.failures.poison !== null) throw this.failures.poison;
  }

  private checkWritable(what: string): void {
    this.checkUsable();
    if (this.cfg.readOnly) throw readOnlyError(what);
    if (this.failures.rollback !== null) throw this.failures.rollingBackError();
    if (this.cutting) throw cutRunningError(what);
  }

  // The hot path (docs/decisions/0606-per-record-cost-budget.md): the encoding is in Appends.
  /** Appends one record and returns its LSN. Synchronous: nothing is durable before sync(). */
  append(record: WalRecordInput): bigint {
    this.checkWritable('append');
    return this.appends.record(record);
  }

  /**
   * Appends a record that is a payload alone (type 0, no meta, no routing fields) and returns
   * its LSN: `append({ payload })` without a record object to allocate and inspect, the hot
   * path of most logs. `payload` must be a Uint8Array or Buffer.
   */
  appendPayload(payload: Uint8Array): bigint {
    this.checkWritable('append');
    return this.appends.payload(payload);
  }

  /**
   * `appendPayload` for each of `payloads`, in order, and returns the last LSN: one frame per
   * record (not atomic; `appendBatch` is), LSNs consecutive. Every payload is checked before
   * any is appended, so a refused one appends nothing. Cheaper per record than a loop of
   * `appendPayload`.
   */
  appendPayloads(payloads: readonly Uint8Array[]): bigint {
    this.checkWritable('append');
    return this.appends.payloads(payloads);
  }

  /**
   * Appends records as one atomic frame (all or none survive a crash); returns the last LSN.
   * With `firstLsn`, the batch must start exactly there (a replica appending a primary's
   * records at their own LSNs): any other next LSN throws WAL_LSN_MISMATCH and appends
   * nothing, so a replica's log can have neither a gap nor an overlap.
   */
  appendBatch(records: readonly WalRecordInput[], firstLsn?: bigint): bigint {
    this.checkWritable('appendBatch');
    return this.appends.batch(records, firstLsn);
  }

  /**
   * Forgets the records above `lsn` whose bytes never left this process, as if they had
   * never been appended: the next append gets the LSN after the last record kept. What was
   * handed to the StorageIo cannot be recalled, so everything up to `submittedLsn` stays,
   * and so do records queued behind a segment's creation (or, with direct I/O, a frame
   * whose first bytes were written); a batch stays or goes whole. Returns the highest LSN
   * that may still reach the log: no record after it ever will. A poisoned log, or one
   * rolling back, writes nothing more of its own accord: it returns `submittedLsn`.
   * For a writer about to close (the Wal drops the appends its `close()` rejects).
   */
  dropUnsubmittedAbove(lsn: bigint): bigint {
    checkLsnArgument('lsn', lsn);
    const p = this.pipeline;
    if (this.cfg.readOnly) return p.nextLsn - 1n;
    if (this.failures.poison !== null || this.failures.rollback !== null) return p.submittedLsn;
    const keep = lsn > p.submittedLsn ? lsn : p.submittedLsn;
    if (keep >= p.nextLsn - 1n || p.bufferedBytes === 0) return p.nextLsn - 1n;
    p.dropBufferedAbove(keep);
    // A flush or sync that waits for a dropped record would wait for ever, and the sync
    // rounds it keeps asking for would never let close() finish.
    this.rounds.rejectFrom(p.nextLsn, droppedError(p.nextLsn));
    return p.nextLsn - 1n;
  }

  /** Resolves once everything appended so far was written to the OS; resolves with writtenLsn. */
  async flush(): Promise<bigint> {
    this.checkUsable();
    if (this.cfg.readOnly) throw readOnlyError('flush');
    if (this.failures.rollback !== null) {
      await this.failures.rollback;
      this.checkUsable();
    }
    const loss = this.failures.takeUnreportedLoss();
    if (loss !== null) throw loss;
    const p = this.pipeline;
    const target = p.nextLsn - 1n;
    p.submitBuffer();
    if (target <= p.writtenLsn) return p.writtenLsn;
    return this.rounds.flush(target);
  }

  /**
   * Makes every record appended before the call durable and resolves with durableLsn.
   * Concurrent calls share one fdatasync; while one is on disk the next group fills.
   */
  async sync(): Promise<bigint> {
    this.checkUsable();
    if (this.cfg.readOnly) throw readOnlyError('sync');
    if (this.failures.rollback !== null) {
      await this.failures.rollback;
      this.checkUsable();
    }
    const loss = this.failures.takeUnreportedLoss();
    if (loss !== null) throw loss;
    const target = this.pipeline.nextLsn - 1n;
    if (target <= this.rounds.durableLsn) return this.rounds.durableLsn;
    return this.rounds.sync(target);
  }

  /**
   * Encrypts every record appended from now on with `ring`'s current key. Only before the
   * first append into the active segment (else WAL_BAD_STATE); the active segment is then
   * replaced by a fresh, encrypted one.
   */
  setEncryptionRing(ring: KeyRing): void {
    if (!isKeyRing(ring)) badArgument('ring', 'a KeyRing from @walnut/codec', ring);
    this.checkUsable();
    checkRingChange(this.ring, ring, this.segments.list);
    if (this.cfg.readOnly) {
      this.ring = ring;
      return;
    }
    const active = this.segments.active();
    if (hasRecords(active) || this.failures.rollback !== null) throw ringTooLate(active.firstLsn);
    this.ring = ring;
    if (active.status === 'pending' && active.creating === null) {
      this.segments.list.pop();
    }
    planActive(this.parts, this.ring);
  }

  /**
   * For a read-only opener: catches up with what a live writer (in another process or this
   * one) has written since open or the last refresh — new frames of the segment it writes,
   * the segments it rolled over to, segments a truncation removed (the floor moves). Only
   * whole frames whose CRC checks and whose LSNs continue the log count. What is found is
   * made durable (an fdatasync of its segments through read-only descriptors, and of the
   * directory) before `writtenLsn` and `durableLsn` move to it, so a record a reader reports
   * cannot vanish in a power loss and come back with another payload. Resolves with
   * `writtenLsn`. Throws WAL_CORRUPT when the writer cut or rewrote records this reader had
   * already found (a rollback after a full disk, a repair), WAL_BAD_STATE on a writer.
   * Concurrent calls share one refresh.
   */
  refresh(): Promise<bigint> {
    this.checkUsable();
    if (this.readerRefresh === null) throw refreshOnWriter();
    return this.readerRefresh.refresh();
  }

  /**
   * Deletes sealed segments wholly below `checkpointLsn`. The new floor is written
   * (atomically) before anything is deleted, so a crash in between only leaves extra files
   * that the next open removes.
   */
  async truncateBefore(checkpointLsn: bigint): Promise<TruncateResult> {
    checkLsnArgument('checkpointLsn', checkpointLsn);
    this.checkUsable();
    if (this.cfg.readOnly) throw readOnlyError('truncateBefore');
    // The segments a running cut deletes and rewrites are not the ones it would list.
    if (this.cutting) throw cutRunningError('truncateBefore');
    return this.truncations.add(checkpointLsn);
  }

  /**
   * Cuts the log after `lsn` durably: the records after it are gone, the next append gets
   * `lsn + 1` (docs/decisions/0340-segmented-truncate-after.md). The records appended before
   * the call are made durable first; appends while it runs are refused (WAL_BAD_STATE). A
   * power loss at any point leaves the log as it was before the cut or as it is after it.
   * Replays started before the cut fail with WAL_TRUNCATED rather than hand out a record
   * above `lsn`. From `floorLsn - 1` (every record) to the last LSN; not inside an atomic
   * batch or a salvage's gap.
   */
  async truncateAfter(lsn: bigint): Promise<TruncateAfterResult> {
    checkLsnArgument('lsn', lsn);
    this.checkWritable('truncateAfter');
    checkCutPoint(lsn, this.segments.floorLsn, this.pipeline.nextLsn - 1n);
    this.cutting = true;
    try {
      return jsonReady(await cutAfter(this.cutHost, lsn));
    } finally {
      this.cutting = false;
    }
  }

  /**
   * The first LSN whose record's time (`WalRecord.time`, ms since the epoch) is ≥ `t`: the
   * first LSN kept when every record is, the LSN after the last written record when none
   * is. Reads a first frame per step of a binary search over the segments and at most one
   * segment's records; a sealed segment looked into before, only a stretch of it from its
   * time index (docs/decisions/0350, 0351). Records of format version 1 have no time and
   * count as appended when their segment was created. WAL_BAD_ARGUMENT for a `t` that is
   * not a finite number ≥ 0.
   */
  async lsnAtTime(t: number): Promise<bigint> {
    checkTime(t);
    this.checkUsable();
    return this.timeLookup.lsnAtTime(t);
  }

  /**
   * The first LSN of the newest segment whose first record was appended before `t` (the
   * floor when none is): every record below it was, since the log's times never go back.
   * Reads a first frame per step of a binary search, like `lsnAtTime`; version 1 segments
   * count by the first timed record after them (docs/decisions/0633). For retention's
   * `maxAgeMs`: a sealed segment wholly below it is older than `t`.
   */
  async segmentsBefore(t: number): Promise<bigint> {
    checkTime(t);
    this.checkUsable();
    return this.timeLookup.segmentsBefore(t);
  }

  /** The log's time now: its clock, never below a time it stamped (records are stamped with it). */
  logTime(): number {
    return this.segments.clock.nowOrLast();
  }

  /** Every record from the floor on, in LSN order, streamed in bounded memory. */
  replay(): AsyncIterable<WalRecord> {
    return this.replayFrom(this.segments.floorLsn);
  }

  /**
   * Records with LSN ≥ `lsn` that were written when the replay started. Payloads are views
   * into a freshly read chunk: they stay valid while held; copy them only to keep a small
   * part of a large chunk alive.
   */
  replayFrom(lsn: bigint): AsyncIterable<WalRecord> {
    this.checkReplayFrom(lsn);
    return this.cuts.guard(this.pager.from(lsn), this.cuts.generation);
  }

  private checkReplayFrom(lsn: bigint): void {
    checkLsnArgument('lsn', lsn);
    this.checkUsable();
    checkNotBelowFloor(lsn, this.segments.floorLsn);
  }

  /**
   * Up to `max` records from `lsn`, and whether more follow. Paging on (calling again from
   * the LSN after the last record) resumes at the frame where the previous page stopped
   * instead of scanning its segment from the start.
   */
  async replayFromLimit(
    lsn: bigint,
    max: number,
  ): Promise<{ records: WalRecord[]; hasMore: boolean }> {
    if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1) {
      badArgument('max', 'a positive integer', max);
    }
    this.checkReplayFrom(lsn);
    return this.cuts.guardPage(() => this.pager.page(lsn, max));
  }

  [Symbol.asyncIterator](): AsyncIterator<WalRecord> {
    return this.replay()[Symbol.asyncIterator]();
  }

  /** The segments on disk, oldest first. */
  async listSegments(): Promise<SegmentInfo[]> {
    this.checkUsable();
    return this.segments.describe();
  }

  /** Bytes the segments take on disk. */
  async totalSizeBytes(): Promise<number> {
    let total = 0;
    for (const s of await this.listSegments()) total += s.sizeBytes;
    return total;
  }

  /** `await using x = …` closes it when the scope ends, as `close()` does. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Writes out the buffer (no fsync: sync() first for durability), waits for in-flight
   * work, closes the files and releases the lock. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = this.shutDown();
    return this.closing;
  }

  private shutDown(): Promise<void> {
    return closeLog({
      readOnly: this.cfg.readOnly,
      parts: () => this.parts,
      truncations: () => this.truncations,
      readerRefresh: this.readerRefresh,
      opened: this.opened,
      refuseCalls: () => {
        this.closed = true;
      },
    });
  }
}
