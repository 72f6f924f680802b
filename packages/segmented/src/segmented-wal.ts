import {
  badArgument,
  batchFrameSize,
  encodeBatchFrame,
  encodeBatchFrameUnsealed,
  encodePayloadFramesUnsealed,
  encodePayloadFrameUnsealed,
  encodeRecordFrame,
  encodeRecordFrameUnsealed,
  FILE_HEADER_SIZE,
  FRAME_HEADER_SIZE,
  type FrameCipher,
  isBytes,
  type KeyRing,
  MAX_TIME_DELTA,
  payloadFrameSize,
  recordFrameSize,
  validateRecordInput,
  WalError,
  WalErrorCode,
  type WalRecord,
  type WalRecordInput,
} from '@walnut/codec';
import type { IoLock, StorageIo } from '@walnut/storage-io';
import { isKeyRing, type ResolvedConfig, type SegmentedWalConfig } from './config.js';
import { cutSuffix } from './files/cut-after.js';
import { existingSegment, hasRecords, plannedSegment, type Segment } from './files/segment.js';
import type { SegmentInfo, SegmentSet, TruncateResult } from './files/segment-set.js';
import { SuffixCuts, truncatedError } from './files/suffix-cuts.js';
import {
  carryCounters,
  checkCutPoint,
  cutRunningError,
  planSuffixCut,
  type TruncateAfterResult,
} from './files/truncate-after.js';
import { TruncationQueue } from './files/truncation-queue.js';
import { Listeners } from './listeners.js';
import { type OpenedLog, openLog } from './open.js';
import { buildParts, type Parts, planActive, prepareActiveSegment } from './parts.js';
import { checkTime, TimeLookup } from './read/lsn-at-time.js';
import { ReaderRefresh } from './read/reader-refresh.js';
import type { ReplayPager } from './read/replay-pager.js';
import { recoverLog } from './recovery/recovery.js';
import type { RecoveryReport } from './recovery/recovery-report.js';
import { type Counters, type SegmentedWalStats, statsOf } from './stats.js';
import {
  checkLsnArgument,
  checkNotBelowFloor,
  closedError,
  lsnMismatch,
  readOnlyError,
} from './usage-errors.js';
import type { DirectIoStats } from './write/direct-io.js';
import type { Failures } from './write/failures.js';
import {
  checkFrameBody,
  type Encoder,
  encodeReserved,
  forgetPayloads,
  takePayloads,
} from './write/frame-guard.js';
import type { SyncRounds } from './write/sync-rounds.js';
import type { WritePipeline } from './write/write-pipeline.js';
import type { WritebackAhead } from './write/writeback.js';
import type { ZeroFiller } from './write/zero-fill.js';

export type { SegmentInfo, TruncateResult } from './files/segment-set.js';
export { SPARE_FILE_PREFIX } from './files/segment-set.js';
export type { TruncateAfterResult } from './files/truncate-after.js';
export type { SegmentedWalStats } from './stats.js';

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
 * failure handling (poison and rollback) and replay paging. It validates, encodes
 * appends into the pipeline's buffer and wires the parts to each other; a read-only
 * opener's refresh and the truncations act on several parts through ReaderRefresh and
 * TruncationQueue.
 */
export class SegmentedWal {
  private readonly cfg: ResolvedConfig;
  private readonly storageIo: StorageIo;
  private readonly ownsIo: boolean;
  private readonly lock: IoLock | null;
  private readonly report: RecoveryReport;
  private readonly directIo: DirectIoStats;
  // The parts are built anew when truncateAfter reopens the log under its lock (install).
  private counters!: Counters;
  private zeroFill!: ZeroFiller | null;
  private writeback!: WritebackAhead | null;
  private pipeline!: WritePipeline;
  private segments!: SegmentSet;
  private failures!: Failures;
  private rounds!: SyncRounds;
  private pager!: ReplayPager;
  private readonly durableListeners = new Listeners<[lsn: bigint]>('onDurable');
  private readonly writtenListeners = new Listeners<[lsn: bigint]>('onWritten');
  private ring: KeyRing | undefined;
  private truncations!: TruncationQueue;
  private readonly cuts = new SuffixCuts();
  /** True while truncateAfter runs: appends are refused until it ends. */
  private cutting = false;
  /** `appendPayloads`' own copy of the caller's list, empty between calls. */
  private readonly payloadList: Uint8Array[] = [];
  /** The time of the frame being appended, in ms after its segment's createdAtMs (see segmentFor). */
  private frameTime = 0;
  /** Null on a writer: it knows its own log. */
  private readonly readerRefresh: ReaderRefresh | null;
  private readonly timeLookup: TimeLookup;
  private closed = false;
  private closing: Promise<void> | null = null;

  private constructor(init: OpenedLog) {
    this.cfg = init.cfg;
    this.directIo = init.directIo;
    this.storageIo = init.io;
    this.ownsIo = init.ownsIo;
    this.lock = init.lock;
    this.report = init.report;
    this.ring = init.cfg.encryption;
    this.install(init);
    this.timeLookup = new TimeLookup({
      io: this.storageIo,
      ring: () => this.ring,
      segments: () => this.segments.list.slice(),
      readableLsn: () => this.pipeline.writtenLsn,
      floorLsn: () => this.segments.floorLsn,
      replayFrom: (lsn) => this.replayFrom(lsn),
      walk: (lsn, resume, chunkSize) => this.pager.walk(lsn, resume, chunkSize),
      generation: () => this.cuts.generation,
      segmentTargetSize: this.cfg.segmentTargetSize,
    });
    const checkUsable = (): void => this.checkUsable();
    this.readerRefresh = init.cfg.readOnly
      ? new ReaderRefresh({
          io: this.storageIo,
          dir: this.cfg.dir,
          segments: this.segments,
          pipeline: this.pipeline,
          rounds: this.rounds,
          ring: () => this.ring,
          checkUsable,
          written: (lsn) => this.writtenListeners.emit(lsn),
          cutGeneration: init.cut?.generation ?? 0n,
        })
      : null;
  }

  /** Builds the parts of the log `init` describes and makes them this log's. */
  private install(init: OpenedLog): void {
    const parts = buildParts(init, {
      closed: () => this.closed,
      ring: () => this.ring,
      written: (lsn) => {
        if (this.writtenListeners.size > 0) this.writtenListeners.emit(lsn);
      },
      durable: (lsn) => this.durableListeners.emit(lsn),
    });
    this.counters = parts.counters;
    this.zeroFill = parts.zeroFill;
    this.writeback = parts.writeback;
    this.pipeline = parts.pipeline;
    this.segments = parts.segments;
    this.failures = parts.failures;
    this.rounds = parts.rounds;
    this.pager = parts.pager;
    this.truncations = new TruncationQueue(this.segments, () => this.checkUsable());
  }

  /**
   * Opens (or, unless read-only, creates) the log in `config.dir` and recovers it: see
   * README.md "Recovery on open". A writer holds `<dir>/LOCK` until `close()`.
   */
  static async open(config: SegmentedWalConfig): Promise<SegmentedWal> {
    const opened = await openLog(config);
    try {
      const wal = new SegmentedWal(opened);
      if (!opened.cfg.readOnly) {
        await prepareActiveSegment(wal.activeParts(), wal.storageIo, wal.ring);
        wal.segments.prepareSpare();
        await wal.segments.spareReady();
      }
      return wal;
    } catch (err) {
      await opened.release();
      throw err;
    }
  }

  private activeParts(): Pick<Parts, 'segments' | 'pipeline' | 'zeroFill'> {
    return { segments: this.segments, pipeline: this.pipeline, zeroFill: this.zeroFill };
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
    return this.report;
  }

  get encryptionRing(): KeyRing | undefined {
    return this.ring;
  }

  get io(): StorageIo {
    return this.storageIo;
  }

  stats(): SegmentedWalStats {
    const { counters, pipeline, zeroFill, writeback } = this;
    return statsOf({ counters, pipeline, zeroFill, writeback }, this.directIo);
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

  /** Calls `listener` whenever writtenLsn advances (a write reached the OS). Returns the function that unsubscribes. */
  onWritten(listener: (writtenLsn: bigint) => void): () => void {
    return this.writtenListeners.add(listener);
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

  // The hot path (docs/decisions/0606-per-record-cost-budget.md): each append calls the
  // pipeline's room() and commit() where it once called private helpers, and encodes into
  // its buffer here, inline; nothing per record is added by the split into parts.
  /** Appends one record and returns its LSN. Synchronous: nothing is durable before sync(). */
  append(record: WalRecordInput): bigint {
    this.checkWritable('append');
    const plainSize = recordFrameSize(record, true);
    const bytes = record.payload.length + (record.meta === undefined ? 0 : record.meta.length);
    if (bytes > this.cfg.maxRecordSize) validateRecordInput(record, this.cfg.maxRecordSize);
    checkFrameBody(plainSize, 'record');
    const p = this.pipeline;
    if (p.lsnHeadroom < 1 && !p.refreshLsnHeadroom(1)) {
      throw new WalError(WalErrorCode.BAD_STATE, 'the log has used every LSN up to 2^64-1');
    }
    const lsn = p.nextLsn;
    const seg = this.segmentFor();
    const time = this.frameTime;
    const cipher = seg.writeCipher;
    if (cipher === undefined) {
      const at = p.room(plainSize);
      if (this.failures.poison !== null) throw this.failures.poison;
      encodeReserved(encodeRecordFrameUnsealed, p.buf, at, lsn, record, plainSize, 'record', time);
      p.unsealed = true;
      p.commit(seg, plainSize, lsn, lsn, 1);
    } else {
      this.appendEncrypted(
        seg,
        cipher,
        encodeRecordFrame,
        record,
        plainSize,
        lsn,
        1,
        'record',
        time,
      );
    }
    this.counters.appends++;
    this.counters.records++;
    return lsn;
  }

  /**
   * Appends a record that is a payload alone (type 0, no meta, no routing fields) and returns
   * its LSN: `append({ payload })` without a record object to allocate and inspect, the hot
   * path of most logs. `payload` must be a Uint8Array or Buffer.
   */
  appendPayload(payload: Uint8Array): bigint {
    this.checkWritable('append');
    if (!isBytes(payload)) {
      badArgument('payload', 'a Uint8Array or Buffer', payload);
    }
    if (payload.length > this.cfg.maxRecordSize) {
      validateRecordInput({ payload }, this.cfg.maxRecordSize);
    }
    const size = payloadFrameSize(payload, true);
    checkFrameBody(size, 'record');
    const p = this.pipeline;
    if (p.lsnHeadroom < 1 && !p.refreshLsnHeadroom(1)) {
      throw new WalError(WalErrorCode.BAD_STATE, 'the log has used every LSN up to 2^64-1');
    }
    const lsn = p.nextLsn;
    const seg = this.segmentFor();
    // Encrypted segments take the general path (the segment stays: segmentFor is idempotent).
    if (seg.writeCipher !== undefined) return this.append({ payload });
    const at = p.room(size);
    if (this.failures.poison !== null) throw this.failures.poison;
    // No caller code runs between reading payload.length and the copy: the frame is `size`.
    encodePayloadFrameUnsealed(p.buf, at, lsn, payload, this.frameTime);
    p.unsealed = true;
    p.commit(seg, size, lsn, lsn, 1);
    this.counters.appends++;
    this.counters.records++;
    return lsn;
  }

  /**
   * `appendPayload` for each of `payloads`, in order, and returns the last LSN: one frame per
   * record (not atomic; `appendBatch` is), LSNs consecutive. Every payload is checked before
   * any is appended, so a refused one appends nothing. The frames that fit the write buffer
   * and the active segment are encoded in one codec call and booked once, which is what
   * makes it cheaper per record than a loop of `appendPayload`.
   */
  appendPayloads(payloads: readonly Uint8Array[]): bigint {
    this.checkWritable('append');
    const list = this.payloadList;
    try {
      const frameBytes = takePayloads(payloads, list, this.cfg.maxRecordSize);
      const count = list.length;
      const p = this.pipeline;
      if (p.lsnHeadroom < count && !p.refreshLsnHeadroom(count)) {
        throw new WalError(WalErrorCode.BAD_STATE, 'the records would use LSNs beyond 2^64-1');
      }
      // The list's size is known for its first run only; a run cut short by the end of the
      // write buffer leaves the rest to be measured payload by payload.
      let from = this.appendPayloadRun(list, 0, count, frameBytes);
      while (from < count)
        from = this.appendPayloadRun(list, from, count, Number.POSITIVE_INFINITY);
      return p.nextLsn - 1n;
    } finally {
      // The caller's buffers are not kept reachable.
      forgetPayloads(list);
    }
  }

  /**
   * Appends `list[from]` and the payloads after it that fit the write buffer, while the
   * segment is below its target size (the rule `segmentFor` applies before each frame), in
   * one codec call and one booking; returns the index of the first payload not appended.
   * `restBytes` is the size of the frames of `list[from..count)`, or Infinity if not known.
   */
  private appendPayloadRun(
    list: readonly Uint8Array[],
    from: number,
    count: number,
    restBytes: number,
  ): number {
    const p = this.pipeline;
    const seg = this.segmentFor();
    if (seg.writeCipher !== undefined) {
      // One frame at a time: encryption seals and encrypts each frame on its own.
      this.appendPayload(list[from]!);
      return from + 1;
    }
    let size = payloadFrameSize(list[from]!, true);
    const at = p.room(size);
    if (this.failures.poison !== null) throw this.failures.poison;
    const bufferRoom = p.buf.length - at;
    const segmentRoom = this.cfg.segmentTargetSize - seg.assignedEnd;
    let to = from + 1;
    if (restBytes <= bufferRoom && restBytes <= segmentRoom) {
      // All of the rest fits: the loop below would take every payload.
      size = restBytes;
      to = count;
    }
    while (to < count && size < segmentRoom) {
      const next = payloadFrameSize(list[to]!, true);
      if (size + next > bufferRoom) break;
      size += next;
      to++;
    }
    const first = p.nextLsn;
    const encode: Encoder<readonly Uint8Array[]> = (target, offset, lsn, payloads, time) =>
      encodePayloadFramesUnsealed(target, offset, lsn, payloads, from, to, time);
    encodeReserved(encode, p.buf, at, first, list, size, 'record', this.frameTime);
    p.sealNow(at, size);
    p.commit(seg, size, first, first + BigInt(to - from - 1), to - from);
    this.counters.appends += to - from;
    this.counters.records += to - from;
    return to;
  }

  /**
   * Appends records as one atomic frame (all or none survive a crash); returns the last LSN.
   * With `firstLsn`, the batch must start exactly there (a replica appending a primary's
   * records at their own LSNs): any other next LSN throws WAL_LSN_MISMATCH and appends
   * nothing, so a replica's log can have neither a gap nor an overlap.
   */
  appendBatch(records: readonly WalRecordInput[], firstLsn?: bigint): bigint {
    this.checkWritable('appendBatch');
    const p = this.pipeline;
    if (firstLsn !== undefined && firstLsn !== p.nextLsn) lsnMismatch(firstLsn, p.nextLsn);
    const plainSize = batchFrameSize(records, true);
    let bytes = 0;
    for (const r of records) bytes += r.payload.length + (r.meta === undefined ? 0 : r.meta.length);
    if (bytes > this.cfg.maxRecordSize) {
      throw new WalError(
        WalErrorCode.RECORD_TOO_LARGE,
        `the batch holds ${bytes} bytes of payload and meta, over maxRecordSize ${this.cfg.maxRecordSize}; split it or raise maxRecordSize`,
        { details: { size: bytes, limit: this.cfg.maxRecordSize } },
      );
    }
    checkFrameBody(plainSize, 'batch');
    if (p.lsnHeadroom < records.length && !p.refreshLsnHeadroom(records.length)) {
      throw new WalError(WalErrorCode.BAD_STATE, 'the batch would use LSNs beyond 2^64-1');
    }
    const first = p.nextLsn;
    const last = first + BigInt(records.length - 1);
    const seg = this.segmentFor();
    const time = this.frameTime;
    const cipher = seg.writeCipher;
    if (cipher === undefined) {
      const at = p.room(plainSize);
      if (this.failures.poison !== null) throw this.failures.poison;
      encodeReserved(encodeBatchFrameUnsealed, p.buf, at, first, records, plainSize, 'batch', time);
      p.unsealed = true;
      p.commit(seg, plainSize, first, last, records.length);
    } else {
      const n = records.length;
      this.appendEncrypted(
        seg,
        cipher,
        encodeBatchFrame,
        records,
        plainSize,
        first,
        n,
        'batch',
        time,
      );
    }
    this.counters.batches++;
    this.counters.records += records.length;
    return last;
  }

  /** An encrypted segment's frame: encoded into scratch space, then encrypted into the buffer. */
  private appendEncrypted<T>(
    seg: Segment,
    cipher: FrameCipher,
    encode: Encoder<T>,
    input: T,
    plainSize: number,
    first: bigint,
    count: number,
    what: 'record' | 'batch',
    time: number,
  ): void {
    const p = this.pipeline;
    const last = first + BigInt(count - 1);
    const size = cipher.encryptedFrameSize(plainSize - FRAME_HEADER_SIZE);
    checkFrameBody(size, what);
    const scratch = p.scratchOf(plainSize);
    encodeReserved(encode, scratch, 0, first, input, plainSize, what, time);
    const at = p.room(size);
    if (this.failures.poison !== null) throw this.failures.poison;
    cipher.encryptFrame(p.buf, at, scratch.subarray(FRAME_HEADER_SIZE, plainSize));
    p.commit(seg, size, first, last, count);
  }

  /**
   * The segment the next frame goes to, rolling over when the active one is full or when the
   * time now is too far after its creation for a frame's u32 of ms (FORMAT.md, version 2).
   * Sets `frameTime`, the next frame's time in ms after that segment's createdAtMs.
   */
  private segmentFor(): Segment {
    const active = this.segments.active();
    const clock = this.segments.clock;
    const now = clock.now();
    const late = now - active.header.createdAtMs > MAX_TIME_DELTA;
    if (!late && (active.assignedEnd < this.cfg.segmentTargetSize || !hasRecords(active))) {
      this.frameTime = now - active.header.createdAtMs;
      return active;
    }
    const p = this.pipeline;
    let next: Segment;
    if (hasRecords(active)) {
      p.submitBuffer();
      next = plannedSegment(this.cfg.dir, p.nextLsn, this.ring, clock);
      p.resetTo(FILE_HEADER_SIZE, p.nextLsn, next.headerBytes);
      this.segments.rollOver(next);
    } else {
      // An empty segment created too long ago is replaced by a new one of the same name.
      if (active.status === 'pending' && active.creating === null) this.segments.list.pop();
      next = planActive(this.activeParts(), this.ring);
    }
    this.frameTime = clock.now() - next.header.createdAtMs;
    return next;
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
    if (this.cfg.readOnly) {
      this.ring = ring;
      return;
    }
    const active = this.segments.active();
    if (hasRecords(active) || this.failures.rollback !== null) {
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `setEncryptionRing must come before the first append into the active segment, which already holds records from LSN ${active.firstLsn}; set it right after open()`,
      );
    }
    this.ring = ring;
    if (active.status === 'pending' && active.creating === null) {
      this.segments.list.pop();
    }
    planActive(this.activeParts(), this.ring);
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
    if (this.readerRefresh === null) {
      throw new WalError(
        WalErrorCode.BAD_STATE,
        'refresh() is for read-only openers: a writer knows its own log',
      );
    }
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
      const last = await this.sync();
      if (lsn === last) return { afterLsn: lsn, recordsRemoved: 0n, segmentsDeleted: 0 };
      const cut = await planSuffixCut(
        this.storageIo,
        this.cfg.dir,
        this.ring,
        this.segments.list,
        lsn,
      );
      try {
        await this.quiesce();
        const segmentsDeleted = await cutSuffix(this.storageIo, this.cfg.dir, cut);
        this.cuts.record(lsn);
        await this.reopenAfterCut();
        return { afterLsn: lsn, recordsRemoved: last - lsn, segmentsDeleted };
      } catch (err) {
        // Files half cut and closed: only an open (which finishes a recorded cut) goes on.
        this.failures.poisonWith(err);
        throw this.failures.poison ?? err;
      }
    } finally {
      this.cutting = false;
    }
  }

  /** Lets every write, creation, fill and sync end and closes the files, keeping the lock. */
  private async quiesce(): Promise<void> {
    await this.truncations.idle();
    await Promise.all(this.pipeline.writes.map((w) => w.settled));
    await this.segments.creationsDone();
    await this.zeroFill?.idle();
    while (this.rounds.active) await new Promise((r) => setImmediate(r));
    await this.writeback?.idle();
    await this.segments.closeFiles();
  }

  /** Recovers the cut log as open() would, under the lock this writer holds, and goes on with it. */
  private async reopenAfterCut(): Promise<void> {
    const before = this.counters;
    const recovered = await recoverLog({
      io: this.storageIo,
      dir: this.cfg.dir,
      mode: this.cfg.recovery,
      readOnly: false,
      ring: this.ring,
    });
    this.install({
      cfg: this.cfg,
      io: this.storageIo,
      ownsIo: this.ownsIo,
      lock: this.lock,
      report: this.report,
      directIo: this.directIo,
      cut: null,
      // Times stamped before the cut stay the floor of later ones: the log's time never goes back.
      clock: this.segments.clock,
      segments: recovered.segments.map((s) =>
        existingSegment(s.path, s.header, s.lastLsn, s.dataEnd),
      ),
      floorLsn: recovered.floorLsn,
      nextLsn: recovered.nextLsn,
      release: async () => {},
    });
    carryCounters(before, this.counters);
    await prepareActiveSegment(this.activeParts(), this.storageIo, this.ring);
    this.segments.prepareSpare();
    await this.segments.spareReady();
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
    return this.segments.clock.now();
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
    const since = this.cuts.generation;
    const page = await this.pager.page(lsn, max).catch((err) => {
      if (since === this.cuts.generation) throw err;
      throw truncatedError(this.cuts.keptSince(since), null, err);
    });
    const last = page.records[page.records.length - 1];
    if (last !== undefined) this.cuts.check(last.lsn, since);
    return page;
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

  /**
   * Writes out the buffer (no fsync: sync() first for durability), waits for in-flight
   * work, closes the files and releases the lock. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const p = this.pipeline;
    const failures = this.failures;
    if (!this.cfg.readOnly && failures.poison === null && failures.rollback === null) {
      try {
        p.submitBuffer();
      } catch {
        // The StorageIo refused the write (closed under us): nothing more can be saved.
      }
    }
    this.closed = true;
    await this.readerRefresh?.settled();
    await Promise.all(p.writes.map((w) => w.settled));
    if (failures.rollback !== null) await failures.rollback;
    await this.segments.creationsDone();
    await this.truncations.idle();
    await this.zeroFill?.idle();
    while (this.rounds.active) await new Promise((r) => setImmediate(r));
    await this.writeback?.idle();
    this.rounds.rejectAll(closedError());
    await this.segments.closeFiles();
    if (this.lock !== null) await this.lock.release().catch(() => {});
    if (this.ownsIo) await this.storageIo.closeIo();
  }
}
