import {
  badArgument,
  checkOptionKeys,
  isWalError,
  MAX_LSN,
  type WalError,
  WalErrorCode,
  type WalRecord,
} from '@walnut/codec';
import type { SuffixCuts } from '@walnut/segmented';
import type { LogEngine, SegmentOpener } from '../../engine.js';
import { RecordIterator, type WalIterator, WalRecordSource } from '../../read-records.js';
import { closedError, tailBelowFloorError } from '../refusals.js';

/**
 * How often a read-only Wal's `tail()` looks for what a writer appended: a few small reads
 * and a directory listing each time, and no more than one in flight for all its tails.
 */
export const TAIL_POLL_MS = 50;

export interface TailOptions {
  /** Once aborted, the iteration rejects with the signal's reason (an AbortError). */
  readonly signal?: AbortSignal;
  /**
   * Yield only records already durable (fdatasynced). By default a tail follows what the
   * Wal's durability mode acknowledges: durable records under `'sync'`; under `'flush'`,
   * `'none'` and `'interval'`, records as soon as their write reached the OS (they survive
   * a crash of this process, not a power loss). A read-only Wal always yields durable ones.
   */
  readonly durableOnly?: boolean;
}

/** Where a tail has read to: the LSN after the last record it yielded. */
export interface TailPosition {
  next: bigint;
  /**
   * The cut generation (the engine's SuffixCuts) of the history the records yielded so far
   * belong to: a tail that read on past a cut that removed nothing it had yielded moves it.
   */
  since: number;
}

/** What the read side asks of its Wal: whether it is closed, and why it is poisoned. */
export interface ReadSideStatus {
  isClosed(): boolean;
  /** WAL_POISONED for a poisoned log, else undefined. */
  poisonedError(): WalError | undefined;
  /** Settles once the Wal's truncateAfter under way (if any) has ended. */
  cutSettled(): Promise<void>;
}

/**
 * A Wal's readers: replay, the iterator and tails, over the engine (and segments through
 * `openSegment`); read-only, each catches up with the writer first. Tails wait on
 * `wake()`, which the Wal calls as durableLsn moves and as it closes.
 */
export class ReadSide {
  private catchingUp: Promise<bigint> | undefined;
  private durableWaiters: (() => void)[] = [];

  constructor(
    private readonly engine: LogEngine,
    private readonly openSegment: SegmentOpener | undefined,
    private readonly readOnly: boolean,
    private readonly status: ReadSideStatus,
    /** The Wal's truncateAfter calls: a reader started before one never mixes histories. */
    private readonly cuts: SuffixCuts,
    /** A tail follows durable records (else written ones) unless told durableOnly. */
    private readonly tailsFollowDurable: boolean,
  ) {}

  async replay(from: bigint, fn: (record: WalRecord) => void | Promise<void>): Promise<void> {
    this.throwIfClosed();
    checkFrom('replay', from);
    if (typeof fn !== 'function') badArgument('replay(from, fn): fn', 'a function', fn);
    if (this.readOnly) await this.catchUp();
    const cursor = this.cursor(this.startOf(from), this.engine.writtenLsn);
    try {
      do {
        for (let pending = cursor.drain(fn); pending !== undefined; pending = cursor.drain(fn))
          await pending;
      } while (await cursor.more());
    } finally {
      cursor.close();
    }
  }

  iterator(from: bigint): WalIterator {
    this.throwIfClosed();
    checkFrom('iterator', from);
    const records = () => this.cursor(this.startOf(from), this.engine.writtenLsn).startSmall();
    if (!this.readOnly) return new RecordIterator(records());
    // A read-only opener reads up to what the writer had written when the first record is
    // asked for.
    return new RecordIterator(() => this.catchUp().then(records));
  }

  /**
   * `read`, for a caller that hands the records on with `yield*` and so never sees them:
   * `read.next` is kept at the LSN after the last record yielded.
   */
  async *tail(
    from: bigint,
    options: TailOptions = {},
    read?: TailPosition,
  ): AsyncIterableIterator<WalRecord> {
    this.throwIfClosed();
    checkFrom('tail', from);
    checkTailOptions(options, 'tail(from, options)');
    const signal = options.signal;
    const followsDurable = options.durableOnly === true || this.tailsFollowDurable;
    const status = this.status;
    const cuts = this.cuts;
    let since = cuts.generation;
    let cursor = this.startOf(from);
    let looked = false;
    let yielded = false;
    // An aborted signal rejects with its reason (Node's convention: an AbortError unless
    // abort() was given another), so a consumer can tell "stopped" from "the log closed".
    while (!status.isClosed()) {
      signal?.throwIfAborted();
      if (cuts.generation !== since) {
        // Yielded a record the cut removed: what follows would be another history.
        const kept = cuts.keptSince(since);
        if (cursor - 1n > kept) throw cuts.truncated(since, null);
        since = cuts.generation;
      }
      const durable = followsDurable ? this.engine.durableLsn : this.engine.writtenLsn;
      if (cursor <= durable) {
        // The records at hand straight from the reader: an await only per page, not one
        // per record as `for await` over a RecordIterator pays (bench W7).
        const reader = this.cursor(cursor, durable, since);
        try {
          do {
            if (read !== undefined) read.since = reader.cutGeneration;
            for (let record = reader.next(); record !== undefined; record = reader.next()) {
              yield record;
              yielded = true;
              cursor = record.lsn + 1n;
              if (read !== undefined) read.next = cursor;
              if (status.isClosed()) return;
              signal?.throwIfAborted();
            }
          } while (await reader.more());
        } catch (error) {
          if (status.isClosed()) return;
          // The reader may have read on past a cut that removed nothing it handed out: the
          // records yielded are of its generation, and a cut before it is no news to them.
          since = reader.cutGeneration;
          if (await this.cutMet(error, since)) continue;
          if (!isWalError(error, WalErrorCode.REPLAY_BELOW_FLOOR)) throw error;
          // A segment was deleted under the read: a truncation, if the floor moved past it
          // (a read-only Wal learns of it by looking again). A tail from the floor that has
          // yielded nothing yet starts at the new one.
          if (this.readOnly) await this.catchUp();
          const floor = this.engine.floorLsn;
          if (cursor >= floor) throw error;
          if (from !== 0n || yielded) throw tailBelowFloorError(cursor, floor, error);
          cursor = floor;
          continue;
        } finally {
          reader.close();
        }
        if (reader.cutGeneration !== since) {
          // It read on past a cut that removed nothing it handed out: what it yielded is of
          // the newer history, and `durable` is the old history's end, which says nothing
          // of the new one (moving the cursor past it would skip the new records).
          since = reader.cutGeneration;
          continue;
        }
        if (cursor <= durable) cursor = durable + 1n;
        continue;
      }
      const poisoned = status.poisonedError();
      if (poisoned) throw poisoned;
      if (!this.readOnly) {
        await this.nextDurableChange(signal);
        continue;
      }
      // Another tail's look wakes this one too; otherwise it looks itself after a pause.
      if (looked) await this.nextDurableChange(signal, TAIL_POLL_MS);
      looked = true;
      if (status.isClosed()) return;
      signal?.throwIfAborted();
      try {
        await this.catchUp();
      } catch (error) {
        if (status.isClosed()) return;
        throw error;
      }
    }
  }

  /**
   * Whether `error` met a suffix cut made since `since`: a cut replaces and deletes segments
   * under a reader, which then finds a segment shorter than listed, gone, or a frame cut
   * short (WAL_CORRUPT, WAL_IO, WAL_MISSING_SEGMENT, WAL_REPLAY_BELOW_FLOOR). The tail's loop
   * judges the cut itself (WAL_TRUNCATED, or reading on in the new history).
   */
  private async cutMet(error: unknown, since: number): Promise<boolean> {
    if (!isWalError(error) || !CUT_SYMPTOMS.has(error.code)) return false;
    if (this.readOnly) await this.catchUp().catch(() => undefined);
    else await this.status.cutSettled();
    return this.cuts.generation !== since;
  }

  /** Read-only: brings the engine's view up to what the writer has written (one at a time). */
  catchUp(): Promise<bigint> {
    this.catchingUp ??= this.engine.refresh!().finally(() => {
      this.catchingUp = undefined;
    });
    return this.catchingUp;
  }

  /** durableLsn (or writtenLsn) moved, or the log closed or was poisoned: tails look again. */
  wake(): void {
    if (this.durableWaiters.length === 0) return;
    const waiters = this.durableWaiters;
    this.durableWaiters = [];
    for (const wake of waiters) wake();
  }

  private cursor(from: bigint, upTo: bigint, since = this.cuts.generation): WalRecordSource {
    return new WalRecordSource(
      this.engine,
      from,
      upTo,
      this.openSegment,
      !this.readOnly,
      this.cuts,
      since,
    );
  }

  /**
   * Where a read from `from` starts: `0n` is the first record still kept (the floor, after a
   * truncation); any other LSN is taken as asked, and one below the floor is an error.
   */
  private startOf(from: bigint): bigint {
    if (from !== 0n) return from;
    const floor = this.engine.floorLsn;
    return floor > 1n ? floor : 1n;
  }

  private throwIfClosed(): void {
    if (this.status.isClosed()) throw closedError();
  }

  /** Resolves when durableLsn moves, the log closes, `signal` aborts or `timeoutMs` passes. */
  private nextDurableChange(signal: AbortSignal | undefined, timeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        signal?.removeEventListener('abort', done);
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      this.durableWaiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    });
  }
}

/** What a reader meets when a truncateAfter deletes or replaces the files it reads. */
const CUT_SYMPTOMS: ReadonlySet<string> = new Set([
  WalErrorCode.CORRUPT,
  WalErrorCode.IO,
  WalErrorCode.MISSING_SEGMENT,
  WalErrorCode.REPLAY_BELOW_FLOOR,
]);

/**
 * `from` is where reading starts: a bigint LSN, 0n and 1n both meaning the first record.
 * Without this check a JavaScript caller who left it out read nothing, without an error.
 */
function checkFrom(method: string, from: unknown): asserts from is bigint {
  if (typeof from !== 'bigint' || from < 0n || from > MAX_LSN)
    badArgument(
      `${method}(from): from`,
      'a bigint LSN from 0n to 2^64-1 (1n reads from the first record, 0n from the first one still kept)',
      from,
    );
}

const TAIL_OPTIONS = ['signal', 'durableOnly'] as const;

/**
 * WAL_BAD_ARGUMENT for tail options that are not TailOptions: a misspelt key would be
 * ignored, and a signal that is no AbortSignal would fail later, inside the Wal.
 */
export function checkTailOptions(options: unknown, where: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object')
    badArgument(`${where}: options`, 'an options object, or nothing', options);
  checkOptionKeys(options, TAIL_OPTIONS, where);
  const { signal, durableOnly } = options as TailOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    badArgument(`${where}: options.signal`, 'an AbortSignal', signal);
  if (durableOnly !== undefined && typeof durableOnly !== 'boolean')
    badArgument(`${where}: options.durableOnly`, 'true or false', durableOnly);
}
