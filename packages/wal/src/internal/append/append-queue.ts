// The global `performance` is a lazy getter in Node 20: each read goes through a generic
// inline cache and the getter (~150 instructions per append, perf stat); the import is a constant.
import { performance } from 'node:perf_hooks';
import { WalError, WalErrorCode } from '@walnut/codec';
import type { LogEngine } from '../../engine.js';
import type { Backpressure, Durability } from '../../options.js';
import type { WalCounters } from '../../wal-stats.js';
import { CommitWaiters } from '../commit/commit-waiters.js';
import { GroupCommit } from '../commit/group-commit.js';
import type { LatencyHistogram } from '../commit/latency-histogram.js';
import { closedError, poisonedError } from '../refusals.js';
import { BlockedAppends, type BlockedWork } from './blocked-appends.js';
import { SettleMarks } from './settle-marks.js';

/** Queue bytes settle in steps of at most this much as writes complete (outside 'sync'). */
const SETTLE_MARK_BYTES = 1024 * 1024;

// `new Promise(capture)` hands out the resolvers without a closure per append.
let capturedResolve: (lsn: bigint) => void = () => undefined;
let capturedReject: (error: unknown) => void = () => undefined;
function capture(resolve: (lsn: bigint) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** What the append queue asks of its Wal. */
export interface QueueOwner {
  isClosed(): boolean;
  /** Why the log is poisoned, if it is. */
  poison(): WalError | undefined;
  /** An append to the engine threw: counts it, poisons the log if it must; the error to reject with. */
  appendFailed(error: unknown): unknown;
  /** A commit or sync failed (ENOSPC rolls back; anything else poisons the log). */
  engineFailed(error: unknown): void;
}

export interface QueueOptions {
  readonly durability: Durability;
  readonly maxGroupWaitMs: number;
  /** Bytes settle as their records are written (outside 'sync', with an engine that says). */
  readonly settlesOnWrite: boolean;
  readonly maxQueueBytes: number;
  readonly backpressure: Backpressure;
}

/**
 * The byte-bounded append queue: the LSNs handed out, the bytes appended and settled, the
 * appends waiting for their commit (resolved in bulk) and those waiting for room
 * (admitted in order). The Wal encodes each record into the engine and books it here;
 * group commit settles it.
 */
export class AppendQueue {
  /** Payload+meta bytes appended, and the part of them whose commit completed. */
  bytesAppended = 0;
  bytesSettled = 0;
  /** Highest LSN handed out by the engine, and (no-wait modes) the highest acknowledged. */
  lastAssigned: bigint;
  lastAcknowledged = 0n;
  /** Highest LSN `appendQueued` returned: its caller holds it, so it must never be reused. */
  lastHandedOut = 0n;
  readonly waiters: CommitWaiters;
  readonly blocked = new BlockedAppends();
  /** Commits what the queue holds; settles it here. */
  readonly commit: GroupCommit;
  /** Outside 'sync', queue bytes settle as their records are written (null: at each flush). */
  private readonly settleMarks: SettleMarks | null;
  private readonly waitsForCommit: boolean;
  private progressWaiters: (() => void)[] = [];

  constructor(
    private readonly engine: LogEngine,
    private readonly options: QueueOptions,
    private readonly counters: WalCounters,
    latency: LatencyHistogram,
    private readonly owner: QueueOwner,
  ) {
    this.lastAssigned = engine.nextLsn - 1n;
    this.waitsForCommit = options.durability === 'sync' || options.durability === 'flush';
    this.waiters = new CommitWaiters(latency);
    this.settleMarks = options.settlesOnWrite
      ? new SettleMarks(Math.max(4096, Math.min(SETTLE_MARK_BYTES, options.maxQueueBytes / 8)))
      : null;
    this.commit = new GroupCommit(
      engine,
      options.durability,
      options.maxGroupWaitMs,
      {
        bytesAppended: () => this.bytesAppended,
        idle: () => this.idle(),
        waiting: () => this.waiters.count(),
        lastAssigned: () => this.lastAssigned,
        isClosed: () => owner.isClosed(),
        isPoisoned: () => owner.poison() !== undefined,
        settle: (lsn) => this.settle(lsn),
        committed: (bytesEnd) => {
          if (bytesEnd > this.bytesSettled) this.bytesSettled = bytesEnd;
        },
        failed: (error) => owner.engineFailed(error),
        afterCommit: () => {
          this.admitBlocked();
          this.wakeProgress();
        },
      },
      counters,
    );
  }

  /** Nothing appended waits for a write or a sync. */
  idle(): boolean {
    return this.bytesAppended === this.bytesSettled && this.waiters.count() === 0;
  }

  /** True if an append of `bytes` must wait for room (or for the appends already waiting). */
  mustQueue(bytes: number): boolean {
    const waiting = this.blocked.size > 0;
    if (!waiting && !this.overBound(bytes)) {
      // The next segment's file comes in through a reap too: small segments roll over more
      // than once between two full queues.
      if (this.engine.wantsReap === true) this.engine.reapCompletions?.();
      return false;
    }
    // A caller appending in a loop that never yields never lets a completion in: the writes
    // that finished meanwhile make room now (and admit, in order, the appends that waited),
    // instead of every later append waiting — a pending promise and a copy each — for a
    // turn of the event loop.
    if (this.settleMarks === null || this.engine.reapCompletions === undefined) return true;
    this.engine.reapCompletions();
    if (waiting) {
      this.admitBlocked();
      if (this.blocked.size > 0) return true;
    }
    return this.overBound(bytes);
  }

  /** An append that must wait for room: it waits ('block') or is refused ('error'). */
  enqueueBlocked(work: BlockedWork, bytes: number): Promise<bigint> {
    if (this.options.backpressure === 'error') {
      this.counters.rejected++;
      return Promise.reject(
        new WalError(
          WalErrorCode.BACKPRESSURE,
          `the append queue holds ${this.bytesAppended - this.bytesSettled} bytes (maxQueueBytes ${this.options.maxQueueBytes}); retry after earlier appends complete, or use backpressure 'block'`,
        ),
      );
    }
    const promise = new Promise<bigint>(capture);
    this.blocked.add(work, bytes, capturedResolve, capturedReject, performance.now());
    this.commit.kick();
    return promise;
  }

  /** Admits blocked appends, in order, while the queue has room. */
  admitBlocked(): void {
    for (
      let next = this.blocked.first();
      next !== undefined && !this.owner.isClosed() && !this.owner.poison();
      next = this.blocked.first()
    ) {
      if (this.overBound(next.bytes)) break;
      this.blocked.removeFirst();
      let lsn: bigint;
      try {
        lsn = this.appendWork(next.work);
      } catch (error) {
        next.reject(this.owner.appendFailed(error));
        continue;
      }
      this.assigned(lsn, next.bytes);
      if (this.waitsForCommit) {
        this.waiters.push(lsn, next.resolve, next.reject, next.start);
      } else {
        this.lastAcknowledged = lsn;
        next.resolve(lsn);
      }
    }
    this.commit.kick();
  }

  /** Appends what a waiting append holds to the engine and counts it; returns the last LSN. */
  private appendWork(work: BlockedWork): bigint {
    const counters = this.counters;
    let lsn: bigint;
    switch (work.kind) {
      case 'record':
        lsn = this.engine.append(work.record);
        counters.appends++;
        counters.records++;
        return lsn;
      case 'batch':
        lsn = this.engine.appendBatch(work.batch, work.firstLsn);
        counters.batches++;
        counters.records += work.batch.length;
        return lsn;
      case 'payloads':
        lsn = this.engine.appendPayloads(work.payloads);
        counters.appends += work.payloads.length;
        counters.records += work.payloads.length;
        return lsn;
    }
  }

  /** Books an appended record and hands out its promise (settled by its commit, or at once). */
  accepted(lsn: bigint, bytes: number): Promise<bigint> {
    this.assigned(lsn, bytes);
    if (this.waitsForCommit) {
      const promise = new Promise<bigint>(capture);
      this.waiters.push(lsn, capturedResolve, capturedReject, performance.now());
      this.commit.kick();
      return promise;
    }
    this.lastAcknowledged = lsn;
    this.commit.kick();
    return Promise.resolve(lsn);
  }

  /** Books an appended record: its LSN and its bytes in the queue. */
  assigned(lsn: bigint, bytes: number): void {
    this.lastAssigned = lsn;
    this.bytesAppended += bytes;
    this.counters.bytes += bytes;
    const marks = this.settleMarks;
    if (marks !== null && this.bytesAppended >= marks.nextAt) marks.add(lsn, this.bytesAppended);
  }

  /** The engine wrote more: the queue has room for appends waiting for it. */
  written(written: bigint): void {
    const settled = this.settleMarks!.settledBy(written);
    if (settled <= this.bytesSettled) return;
    this.bytesSettled = settled;
    // Not from inside the engine's completion handling: admitting appends re-enters it.
    if (this.blocked.size > 0) queueMicrotask(() => this.admitBlocked());
  }

  /** Resolves, in bulk, every waiter whose record is covered by `lsn`. */
  settle(lsn: bigint): void {
    if (lsn >= this.lastAssigned) this.bytesSettled = this.bytesAppended;
    this.waiters.settle(lsn);
  }

  /** The highest LSN a caller was told of (acknowledged, or returned by `appendQueued`). */
  lastPromised(): bigint {
    const acknowledged = this.waitsForCommit ? 0n : this.lastAcknowledged;
    return acknowledged > this.lastHandedOut ? acknowledged : this.lastHandedOut;
  }

  /**
   * The engine rolled back to `engineLast`. If a caller was told of a record it lost,
   * returns that record's LSN (the log cannot go on honestly); else rejects the waiters
   * above `engineLast` with `cause`, and the queue goes on from there.
   */
  rolledBack(engineLast: bigint, cause: WalError): bigint | undefined {
    this.settleMarks?.dropAbove(engineLast);
    const promised = this.lastPromised();
    if (promised > engineLast) return promised;
    this.counters.rejected += this.waiters.rejectAbove(engineLast, cause);
    this.lastAssigned = engineLast;
    return undefined;
  }

  /**
   * The engine cut the log after `lsn` (truncateAfter, once everything queued was durable
   * and settled): the queue goes on from there; LSNs above it may be handed out again.
   */
  cutTo(lsn: bigint): void {
    this.settleMarks?.dropAbove(lsn);
    if (this.lastAssigned > lsn) this.lastAssigned = lsn;
    if (this.lastAcknowledged > lsn) this.lastAcknowledged = lsn;
    if (this.lastHandedOut > lsn) this.lastHandedOut = lsn;
  }

  /**
   * Rejects every waiting append: those up to `mayBeInLog` with their own
   * WAL_OUTCOME_UNKNOWN (`unknown(lsn)`), the later ones — never in the log — with `absent`;
   * and the appends waiting for room (never in the log) with `absent`.
   */
  rejectAll(mayBeInLog: bigint, absent: WalError, unknown: (lsn: bigint) => WalError): void {
    this.counters.rejected += this.waiters.rejectAll(mayBeInLog, absent, unknown);
    this.counters.rejected += this.blocked.rejectAll(absent);
  }

  /** Waits until every append blocked at the time of the call has been admitted. */
  async waitUntilUnblocked(): Promise<void> {
    while (this.blocked.size > 0) {
      if (this.owner.isClosed()) throw closedError();
      const poison = this.owner.poison();
      if (poison) throw poisonedError(poison);
      this.commit.kick();
      await new Promise<void>((resolve) => this.progressWaiters.push(resolve));
    }
  }

  /** A commit ended, or the log closed or was poisoned: waits for room look again. */
  wakeProgress(): void {
    if (this.progressWaiters.length === 0) return;
    const waiters = this.progressWaiters;
    this.progressWaiters = [];
    for (const wake of waiters) wake();
  }

  private overBound(bytes: number): boolean {
    const queued = this.bytesAppended - this.bytesSettled;
    return queued > 0 && queued + bytes > this.options.maxQueueBytes;
  }
}
