import { badArgument, isThenable, ReadSlices, type WalRecord } from '@walnut/codec';
import type { SuffixCuts } from '@walnut/segmented';
import type { EngineSegment, LogEngine, SegmentOpener, SegmentRecords } from './engine.js';

/** Records per read through the engine (the part of the log that is not sealed yet). */
const PAGE_RECORDS = 16_384;

/**
 * Frames a skip passes over between two looks at the clock: about half a millisecond of
 * plain frames on a 2-vCPU VM (a whole 64 MiB segment, 440,000 records, took 46–105 ms).
 */
const SKIP_STEPS = 4096;

/**
 * Records with `from ≤ lsn ≤ upTo`, in order: segments that were sealed when reading
 * started through `openSegment`, then, with `readsUnsealed`, the written part of the next
 * one when reading starts at or before it; the rest through the engine's bounded reads.
 * `next()` hands out what is at hand without waiting; `more()` fetches the next segment or
 * page. Replay and the iterator both drive it, so neither pays the async machinery per record.
 * A mapped segment never waits, so once a slice of event-loop time is spent (decision 0312)
 * nothing is at hand until `more()` let the loop turn.
 * Not a durable `Cursor` (cursors/): it keeps no position beyond one read.
 */
export class WalRecordSource {
  private readonly engine: LogEngine;
  private readonly upTo: bigint;
  private readonly openSegment: SegmentOpener | undefined;
  /** The next LSN to hand out. */
  private cursor: bigint;
  private mapped: EngineSegment[] | null = null;
  private mappedAt = 0;
  private reader: SegmentRecords | null = null;
  /** Whether every record of the open segment lies in [cursor, upTo]: no comparisons needed. */
  private readerWhole = false;
  private page: WalRecord[] = [];
  private pageAt = 0;
  private engineDone = false;
  /** Records the next engine page asks for (see `startSmall`). */
  private pageRecords = PAGE_RECORDS;
  /** The cuts generation this cursor's reader started at (see `checkCuts`). */
  private since: number;
  private readonly slices = new ReadSlices();
  /** The slice is spent: `more()` lets the event loop turn before anything else is handed out. */
  private pausing = false;
  /** An LSN the open segment's reader is still to skip to (0n: none), a slice at a time. */
  private skipping = 0n;

  /**
   * `readsUnsealed`: the segment being written may be read up to its `writtenBytes`. Only
   * for the process that writes the log, which never cuts the file below them; another
   * process's rollback could, and touching a mapped page a cut removed kills the process.
   */
  constructor(
    engine: LogEngine,
    from: bigint,
    upTo: bigint,
    openSegment: SegmentOpener | undefined,
    private readonly readsUnsealed = false,
    private readonly cuts?: SuffixCuts,
    since = cuts?.generation ?? 0,
  ) {
    this.engine = engine;
    this.upTo = upTo;
    this.openSegment = openSegment;
    this.cursor = from < 1n ? 1n : from;
    this.since = since;
  }

  /**
   * The cut generation (the engine's SuffixCuts) whose history the records at hand belong
   * to: it moves when `more()` finds that a cut removed nothing this reader handed out.
   */
  get cutGeneration(): number {
    return this.since;
  }

  /**
   * Engine pages start at one record and double up to the full page: for a pull-based
   * reader, which may stop after a few records (a point read, decision 0344), so a read
   * from an LSN costs what it takes, not a page of 16,384 records.
   */
  startSmall(): this {
    this.pageRecords = 1;
    return this;
  }

  /** The next record, or undefined when `more()` must be awaited first. */
  next(): WalRecord | undefined {
    if (this.pausing) return undefined;
    const record = this.take();
    if (record !== undefined && this.slices.handedOut()) this.pausing = true;
    return record;
  }

  private take(): WalRecord | undefined {
    if (this.cuts !== undefined && this.cuts.generation !== this.since) return this.stopAtCut();
    const reader = this.reader;
    if (reader !== null) {
      if (!this.skipped()) return undefined;
      if (this.readerWhole) {
        const record = reader.next();
        if (record !== null) return record;
      } else {
        for (let record = reader.next(); record !== null; record = reader.next()) {
          if (record.lsn < this.cursor) continue;
          if (record.lsn > this.upTo) break;
          this.cursor = record.lsn + 1n;
          return record;
        }
      }
      this.closeReader(true);
      return undefined;
    }
    if (this.pageAt < this.page.length) return this.page[this.pageAt++];
    return undefined;
  }

  /**
   * Hands what `next()` would return to `fn` until nothing is at hand (undefined: await
   * `more()`) or `fn` returns a promise, which it returns (await it and call again).
   * A segment read whole goes through the reader's own loop, without a call per record.
   */
  drain(fn: (record: WalRecord) => unknown): PromiseLike<unknown> | undefined {
    if (this.cuts !== undefined && this.cuts.generation !== this.since) return this.stopAtCut();
    if (this.pausing) return this.pause();
    const reader = this.reader;
    if (reader !== null && this.readerWhole) {
      if (!this.skipped()) return this.pause();
      const pending = reader.drain(fn, this.slices);
      if (pending !== undefined) return pending;
      this.closeReader(true);
      return undefined;
    }
    for (let record = this.next(); record !== undefined; record = this.next()) {
      const result = fn(record);
      if (isThenable(result)) return result;
    }
    return undefined;
  }

  /**
   * Moves the next record handed out to the first at or after `lsn` (a lower `lsn` changes
   * nothing). The records passed over are still read (CRCs and the LSN sequence checked as
   * ever) but by the segment's reader, without building them, and without one `more()` and
   * one promise each: what a caller that wants a few LSNs far apart pays instead of reading
   * every record between them (decision 0410). Segments wholly below `lsn` are not opened.
   * A cut below `lsn` is judged as if the records passed over had been handed out.
   * The reader skips when the next record is asked for, a slice of event-loop time at a
   * time like any read (a whole segment took up to 105 ms).
   */
  skipTo(lsn: bigint): void {
    while (this.pageAt < this.page.length && this.page[this.pageAt]!.lsn < lsn) this.pageAt++;
    // The reader only moves ahead: a whole segment's is exactly at the next record to hand
    // out (the cursor is past its end), a partial one's records are compared with the cursor.
    if (this.reader !== null && lsn > this.skipping) this.skipping = lsn;
    if (lsn > this.cursor) this.cursor = lsn;
  }

  /** Whether the reader is done with a skip; false when the slice was spent first. */
  private skipped(): boolean {
    if (this.skipping === 0n) return true;
    while (!this.reader!.skipTo(this.skipping, SKIP_STEPS)) {
      if (this.slices.spent()) {
        this.pausing = true;
        return false;
      }
    }
    this.skipping = 0n;
    return true;
  }

  /** Makes more records available to `next()`; false once every record was handed out. */
  async more(): Promise<boolean> {
    if (this.pausing) {
      await this.pause();
      return true;
    }
    if (this.cuts !== undefined && this.cuts.generation !== this.since) this.checkCuts();
    if (this.cursor > this.upTo) return false;
    if (this.mapped === null) this.mapped = await this.segmentsToMap();
    while (this.mappedAt < this.mapped.length) {
      const segment = this.mapped[this.mappedAt++]!;
      if (segment.lastLsn === null || segment.lastLsn < this.cursor) continue;
      if (segment.firstLsn > this.cursor) {
        // No segment listed holds the next record: deleted since the listing (truncateBefore,
        // retention; a listing leaves out files gone), or a hole a salvage recorded. Never
        // hand out what follows as if it came next: the engine's reads know which it is
        // (WAL_REPLAY_BELOW_FLOOR, or reading on past a recorded hole).
        this.mapped = [];
        break;
      }
      try {
        this.reader = this.openSegment!(segment);
      } catch {
        // Deleted by a concurrent truncateBefore, for instance: the engine's reads below
        // report precisely what is missing (WAL_REPLAY_BELOW_FLOOR).
        this.mapped = [];
        break;
      }
      if (await this.cutSinceMapped()) return true;
      this.readerWhole = segment.firstLsn >= this.cursor && segment.lastLsn <= this.upTo;
      // From now on the cursor is the LSN after this segment: it is read to its end.
      if (this.readerWhole) this.cursor = segment.lastLsn + 1n;
      else if (segment.firstLsn < this.cursor) this.skipping = this.cursor;
      return true;
    }
    return this.nextPage();
  }

  /**
   * A truncateAfter happened while records were at hand (a segment read, a page), which
   * may be of the old history: they are dropped, and the cursor is set back to the first of
   * them, so that `more()` judges what was handed out (`checkCuts`) and reads on from there.
   */
  private stopAtCut(): undefined {
    if (this.reader !== null) {
      // A whole segment's reader moved the cursor past its end at once; a partial one keeps
      // it exact.
      const next = this.readerWhole ? this.reader.next() : null;
      // A skip not done yet still counts: what it was to pass over was handed out.
      if (next !== null) this.cursor = next.lsn;
      if (this.skipping > this.cursor) this.cursor = this.skipping;
      this.closeReader(false);
    } else if (this.pageAt < this.page.length) {
      this.cursor = this.page[this.pageAt]!.lsn;
    }
    this.page = [];
    this.pageAt = 0;
    this.engineDone = false;
    return undefined;
  }

  /**
   * A truncateAfter happened since the reader started. Handed out a record above the cut
   * (the cursor may count a mapped segment's records as handed out): WAL_TRUNCATED, never a
   * record of the new history after one of the old. Else it only read what both histories
   * share, and reads on through the engine (the segment list it mapped is the old one).
   */
  private checkCuts(): void {
    const cuts = this.cuts!;
    const kept = cuts.keptSince(this.since);
    if (this.cursor - 1n > kept) throw cuts.truncated(this.since, null);
    this.since = cuts.generation;
    this.mapped = [];
    this.mappedAt = 0;
  }

  /**
   * A read-only opener maps a segment by the path its listing gave, and a cut in another
   * process may have put a file of the new history there since (the kept prefix, grown past
   * it): the CUT file is read after the mapping, as after every read (decision 0341). A cut
   * found closes the mapping and judges what was handed out (`checkCuts`); the records that
   * follow come through the engine's guarded reads.
   */
  private async cutSinceMapped(): Promise<boolean> {
    const cuts = this.cuts;
    if (cuts?.afterRead == null) return false;
    try {
      await cuts.afterRead();
    } catch (error) {
      this.closeReader(false);
      throw error;
    }
    if (cuts.generation === this.since) return false;
    this.closeReader(false);
    this.checkCuts();
    return true;
  }

  private async pause(): Promise<void> {
    await this.slices.pause();
    this.pausing = false;
  }

  /** Stops early (a caller broke out of its loop): closes what is open. */
  close(): void {
    if (this.reader !== null) this.closeReader(false);
  }

  private closeReader(checkEnd: boolean): void {
    const reader = this.reader!;
    this.reader = null;
    this.skipping = 0n;
    try {
      if (checkEnd) reader.finish();
    } finally {
      reader.close();
    }
  }

  private async segmentsToMap(): Promise<EngineSegment[]> {
    const engine = this.engine;
    const activeFirst = engine.activeSegmentFirstLsn;
    if (!this.openSegment || this.cursor < engine.floorLsn) return [];
    // Past the first record of the segment being written nothing is mapped (below): the
    // engine's pages resume there without a listing, which stats every segment (a tail
    // reads a page after each group commit).
    if (this.cursor > activeFirst) return [];
    if (this.cursor === activeFirst && !this.readsUnsealed) return [];
    const segments = [...(await engine.listSegments())].sort((a, b) =>
      a.firstLsn < b.firstLsn ? -1 : a.firstLsn > b.firstLsn ? 1 : 0,
    );
    const mapped: EngineSegment[] = [];
    for (const segment of segments) {
      if (segment.firstLsn < activeFirst && segment.sealed !== false) {
        mapped.push(segment);
        continue;
      }
      // Not sealed yet: writes past `writtenBytes` may be in flight (and its fdatasync may
      // run). Read from its start only: a reader resuming inside it (a tail after each
      // commit) would rescan it every time, where the engine's pages resume where they stopped.
      if (
        this.readsUnsealed &&
        segment.writtenBytes !== undefined &&
        (segment.firstLsn >= this.cursor || mapped.some((m) => m.lastLsn! >= this.cursor))
      ) {
        mapped.push(segment);
      }
      break;
    }
    return mapped;
  }

  private async nextPage(): Promise<boolean> {
    while (!this.engineDone && this.cursor <= this.upTo) {
      const cursor = this.cursor;
      const wanted = this.upTo - cursor + 1n;
      const max = wanted < BigInt(this.pageRecords) ? Number(wanted) : this.pageRecords;
      this.pageRecords = Math.min(PAGE_RECORDS, this.pageRecords * 2);
      const { records, hasMore } = await this.engine.replayFromLimit(cursor, max);
      let start = 0;
      while (start < records.length && records[start]!.lsn < cursor) start++;
      let end = start;
      while (end < records.length && records[end]!.lsn <= this.upTo) end++;
      if (!hasMore || records.length === 0 || end < records.length) this.engineDone = true;
      if (end > start) {
        this.page = start === 0 && end === records.length ? records : records.slice(start, end);
        this.pageAt = 0;
        this.cursor = records[end - 1]!.lsn + 1n;
        return true;
      }
    }
    return false;
  }
}

/** What `Wal.iterator()` returns: an async iterator over records that can move ahead. */
export interface WalIterator extends AsyncIterableIterator<WalRecord> {
  /**
   * The next record it yields is the first at or after `lsn`; an `lsn` at or below the next
   * record's changes nothing. The records passed over are read and checked but never built,
   * and segments wholly below `lsn` are not opened: for reading a few LSNs far apart, much
   * cheaper than a new iterator per LSN or a `next()` per record between them (decision
   * 0410).
   */
  skipTo(lsn: bigint): void;
  /** Stops early (what `break` in `for await` calls): closes what the iterator holds open. */
  return(): Promise<IteratorResult<WalRecord>>;
}

/**
 * An async iterator over a cursor's records that allocates nothing per record while records
 * are at hand: `next()` hands back one promise, resolved once with one result object whose
 * `value` it sets first. So read `value` and `done` before calling `next()` again (as
 * `for await` does); the records themselves are yours to keep. Its cursor may come later
 * (a read-only opener catches up with the writer first): a skip asked before is kept.
 */
export class RecordIterator implements WalIterator {
  private cursor: WalRecordSource | null;
  private readonly opening: (() => Promise<WalRecordSource>) | null;
  private opened: Promise<void> | null = null;
  /** A `skipTo` asked before the cursor came. */
  private skipFirst = 0n;
  private readonly result: IteratorResult<WalRecord> = { value: undefined, done: false } as never;
  private readonly resolvedResult = Promise.resolve(this.result);
  private done = false;

  constructor(cursor: WalRecordSource | (() => Promise<WalRecordSource>)) {
    if (cursor instanceof WalRecordSource) {
      this.cursor = cursor;
      this.opening = null;
    } else {
      this.cursor = null;
      this.opening = cursor;
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<WalRecord>> {
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    const cursor = this.cursor;
    if (cursor === null) {
      this.opened ??= this.open();
      return this.opened.then(() => this.next());
    }
    const record = cursor.next();
    if (record !== undefined) {
      (this.result as { value: WalRecord }).value = record;
      return this.resolvedResult;
    }
    return cursor.more().then(
      (more) => {
        if (more) return this.next();
        this.done = true;
        return { value: undefined, done: true };
      },
      (error: unknown) => {
        this.finish();
        throw error;
      },
    );
  }

  skipTo(lsn: bigint): void {
    if (typeof lsn !== 'bigint') badArgument('skipTo(lsn): lsn', 'a bigint LSN', lsn);
    if (this.cursor !== null) this.cursor.skipTo(lsn);
    else if (lsn > this.skipFirst) this.skipFirst = lsn;
  }

  return(): Promise<IteratorResult<WalRecord>> {
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Waits for the cursor (once, whatever number of `next()` calls wait with it). */
  private async open(): Promise<void> {
    let cursor: WalRecordSource;
    try {
      cursor = await this.opening!();
    } catch (error) {
      this.done = true;
      throw error;
    }
    if (this.skipFirst > 0n) cursor.skipTo(this.skipFirst);
    this.cursor = cursor;
    // Ended while the cursor came: nothing of it is read.
    if (this.done) cursor.close();
  }

  private finish(): void {
    this.done = true;
    this.cursor?.close();
  }
}
