import { isWalError, WalError, WalErrorCode } from '@walnut/codec';
import { type IoCompletion, linkedSyncRan, type StorageIo } from '@walnut/storage-io';
import type { Segment } from '../files/segment.js';
import type { Failures } from './failures.js';
import type { SegmentWrite } from './pending-write.js';
import type { Counters } from './stats.js';
import type { WritePipeline } from './write-pipeline.js';
import type { WritebackAhead } from './writeback.js';
import type { ZeroFiller } from './zero-fill.js';

interface Waiter {
  target: bigint;
  resolve(lsn: bigint): void;
  reject(err: unknown): void;
}

/** What sync rounds ask of the segment set. */
export interface SyncSegments {
  active(): Segment;
  /** The segment that holds `lsn`. */
  holding(lsn: bigint): Segment | undefined;
  /** Waits until `seg` is renamed into place (its records cannot be durable before). */
  named(seg: Segment): Promise<void>;
  /** Closes the files of sealed segments once nothing uses them. */
  closeIdleFds(): void;
}

/**
 * Flush and sync: the waiters for writtenLsn and durableLsn, and the rounds that make
 * records durable, one fdatasync in flight at a time while the next group fills
 * (docs/decisions/0604-one-fdatasync-in-flight.md). A round takes whatever was appended
 * when it starts; the waiters it covers resolve when it ends.
 */
export class SyncRounds {
  durableLsn: bigint;

  private readonly io: StorageIo;
  private readonly pipeline: WritePipeline;
  private readonly segments: SyncSegments;
  private readonly failures: Failures;
  private readonly counters: Counters;
  private readonly zeroFill: ZeroFiller | null;
  private readonly writeback: WritebackAhead | null;
  private readonly onDurable: (lsn: bigint) => void;
  private waiters: Waiter[] = [];
  private flushWaiters: Waiter[] = [];
  private roundActive = false;

  constructor(options: {
    io: StorageIo;
    pipeline: WritePipeline;
    segments: SyncSegments;
    failures: Failures;
    counters: Counters;
    zeroFill: ZeroFiller | null;
    writeback: WritebackAhead | null;
    durableLsn: bigint;
    /** durableLsn advanced. */
    onDurable: (lsn: bigint) => void;
  }) {
    this.io = options.io;
    this.pipeline = options.pipeline;
    this.segments = options.segments;
    this.failures = options.failures;
    this.counters = options.counters;
    this.zeroFill = options.zeroFill;
    this.writeback = options.writeback;
    this.durableLsn = options.durableLsn;
    this.onDurable = options.onDurable;
  }

  /** True while a round runs (its fdatasync needs the files it syncs open). */
  get active(): boolean {
    return this.roundActive;
  }

  /** Resolves with writtenLsn once every record up to `target` was written to the OS. */
  flush(target: bigint): Promise<bigint> {
    return new Promise<bigint>((resolve, reject) => {
      this.flushWaiters.push({ target, resolve, reject });
    });
  }

  /** Resolves with durableLsn once every record up to `target` is durable. */
  sync(target: bigint): Promise<bigint> {
    const done = new Promise<bigint>((resolve, reject) => {
      this.waiters.push({ target, resolve, reject });
    });
    this.pump();
    return done;
  }

  /** writtenLsn advanced to `lsn`: the flushes it covers resolve. */
  written(lsn: bigint): void {
    if (this.flushWaiters.length === 0) return;
    const ready = this.flushWaiters.filter((f) => f.target <= lsn);
    this.flushWaiters = this.flushWaiters.filter((f) => f.target > lsn);
    for (const f of ready) f.resolve(lsn);
  }

  /** Rejects every waiter (the log is poisoned or closed). */
  rejectAll(err: WalError): void {
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
    for (const f of this.flushWaiters) f.reject(err);
    this.flushWaiters = [];
  }

  /** Rejects the waiters for records from `from` on (rolled back); false when there were none. */
  rejectFrom(from: bigint, err: WalError): boolean {
    let told = false;
    const keep = (w: Waiter): boolean => {
      if (w.target < from) return true;
      w.reject(err);
      told = true;
      return false;
    };
    this.waiters = this.waiters.filter(keep);
    this.flushWaiters = this.flushWaiters.filter(keep);
    return told;
  }

  /** Starts a sync round when waiters need one and none runs. */
  pump(): void {
    if (this.roundActive || this.failures.rollback !== null || this.failures.poison !== null) {
      return;
    }
    if (this.waiters.length === 0) return;
    this.roundActive = true;
    this.runRound().then(
      () => {
        this.roundActive = false;
        this.segments.closeIdleFds();
        this.pump();
      },
      (err) => {
        this.roundActive = false;
        this.segments.closeIdleFds();
        if (isWalError(err, WalErrorCode.NO_SPACE) && this.failures.poison === null) {
          // The rollback rejects the waiters it concerns and pumps again when done.
          this.pump();
          return;
        }
        this.failures.poisonWith(err);
      },
    );
  }

  private async runRound(): Promise<void> {
    const pipeline = this.pipeline;
    const target = pipeline.nextLsn - 1n;
    const active = this.segments.active();
    let linkedSync: Promise<IoCompletion> | null = null;
    let linkedEnd = 0;
    let dsyncWrite: SegmentWrite | null = null;
    const othersBusy = pipeline.writes.length > 0;
    if (pipeline.bufferedBytes > 0 && active.status === 'ready' && !othersBusy) {
      // The common case: one buffer to write and nothing else in flight. Where everything
      // before it is durable, the write is made durable by itself (one operation for the
      // kernel, docs/decisions/0608-sync-round-as-one-dsync-write.md); otherwise the
      // fdatasync is linked behind it, so that both reach the kernel together.
      const submitted = pipeline.submitBuffer({ holdFlush: true, dsync: true });
      if (submitted !== null && submitted.token >= 0) {
        const { write, token } = submitted;
        let syncToken = -1;
        if (!write.dsync) {
          try {
            syncToken = this.io.submitDatasync(active.fd!, { linkToPrevious: true });
          } catch (err) {
            // The write is in the backend: flushed and watched all the same, so it settles
            // and close() does not wait for it forever.
            try {
              this.io.flush();
            } finally {
              pipeline.watch(write, token);
            }
            throw err;
          }
        }
        this.counters.syncs++;
        this.io.flush();
        pipeline.watch(write, token);
        if (write.dsync) {
          dsyncWrite = write;
        } else {
          linkedSync = this.io.completion(syncToken);
          linkedEnd = write.dataEnd;
        }
        this.zeroFill?.maybeStart(active);
      }
    } else {
      pipeline.submitBuffer();
    }
    const covering = pipeline.writes.slice();
    await Promise.all(covering.map((w) => w.settled));
    const failed = covering.find((w) => w.status !== 'done');
    if (failed !== undefined) {
      if (linkedSync !== null) await linkedSync;
      if (this.failures.poison !== null) throw this.failures.poison;
      throw this.failures.rollbackError ?? new WalError(WalErrorCode.IO, 'a write failed');
    }
    if (this.failures.poison !== null) throw this.failures.poison;
    /** The segment this round's fdatasync covered, if it ran one. */
    let synced: Segment | null = null;
    if (dsyncWrite?.status === 'done') {
      synced = active;
      this.covered(active, dsyncWrite.dataEnd);
    }
    if (linkedSync !== null) {
      if (linkedSyncRan((await linkedSync).result, active.path)) {
        synced = active;
        this.covered(active, linkedEnd);
      }
      // Cancelled: its write was short and finished by a resubmission; sync again below.
    }
    if (synced === null) {
      const seg = this.segments.holding(target);
      if (seg !== undefined) await this.segments.named(seg);
      if (seg !== undefined && seg.status === 'ready' && seg.fd !== null) {
        this.counters.syncs++;
        const end = seg.completedEnd;
        await this.io.datasync(seg.fd);
        this.covered(seg, end);
        synced = seg;
      }
      // A sealed segment was fdatasynced when it was sealed.
    }
    // A fill's or the seal's fdatasync running beside this round's may have taken the
    // writeback error of this round's data (Linux tells one of them): durable only once
    // those came back clean (a failure poisons first).
    if (synced !== null && synced.syncsBeside.size > 0) await Promise.all(synced.syncsBeside);
    if (this.failures.poison !== null) throw this.failures.poison;
    this.advanceDurable(target);
  }

  /** A sync of this round made `seg` durable up to `end`. */
  private covered(seg: Segment, end: number): void {
    if (end > seg.syncedEnd) seg.syncedEnd = end;
    this.writeback?.covered(seg, end);
  }

  /** Moves durableLsn to `lsn` (a round ended, a segment was sealed, a reader caught up). */
  advanceDurable(lsn: bigint): void {
    if (lsn <= this.durableLsn || this.failures.poison !== null) return;
    this.durableLsn = lsn;
    const done = this.waiters.filter((w) => w.target <= lsn);
    this.waiters = this.waiters.filter((w) => w.target > lsn);
    for (const w of done) w.resolve(lsn);
    this.onDurable(lsn);
  }
}
