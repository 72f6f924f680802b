import {
  badArgument,
  checkLogId,
  checkOptionKeys,
  Errno,
  gapsCover,
  invalidArgument,
  isThenable,
  isWalError,
  type LsnGap,
  lowestCutSince,
  pathOption,
  ReadSlices,
  WalError,
  WalErrorCode,
  type WalRecord,
} from '@walnut/codec';
import { CutWatch, truncatedSince } from './cut-watch.js';
import { listSegmentFiles, logIdOf, readFloor, readGaps, type SegmentFile } from './log-dir.js';
import { type MmapWalReaderOptions, READER_OPTIONS } from './opening.js';
import { MmapWalReader } from './reader.js';

export interface ReplayOptions extends MmapWalReaderOptions {
  /**
   * Also read the active segment (the one with the highest first LSN). Only for a log
   * that no process has open for writing: a writer may truncate or extend the active
   * segment, and touching mapped pages that a truncation removed raises SIGBUS, which
   * kills the process. Default false: the active segment is never mapped.
   */
  includeActive?: boolean;
  /** Call `releasePages()` on each segment once it was read to its end. Default false. */
  releasePages?: boolean;
  /**
   * Going on from an earlier read: the `cutGeneration` of the page or replay before (or of
   * the WAL_TRUNCATED that stopped it, `details.cutGeneration`). A suffix cut
   * (`truncateAfter`) made since that removed records they handed out is refused with
   * WAL_TRUNCATED, so that reads never join two histories.
   */
  cutGeneration?: bigint;
}

/** Looks a replay may take to start: each one a cut beside it spoilt. */
const LOOKS = 100;

/** Every option of ReplayOptions; the type makes one added above be added here too. */
const REPLAY_OPTIONS: Readonly<Record<keyof ReplayOptions, true>> = {
  ...READER_OPTIONS,
  includeActive: true,
  releasePages: true,
  cutGeneration: true,
};

export interface ReplaySummary {
  /** Records handed to the callback. */
  records: number;
  /** The LSN after the last record replayed (`fromLsn` when none was). */
  nextLsn: bigint;
  /** Segments opened. */
  segments: number;
  /** The log's suffix-cut generation this replay read in: pass it to a replay from `nextLsn`. */
  cutGeneration: bigint;
}

export interface ReplayPage {
  records: WalRecord[];
  /** More records follow `records` in the segments this call may read. */
  hasMore: boolean;
  /** Where the next page starts: the LSN after the last record returned (`fromLsn` when none). */
  nextLsn: bigint;
  /** The log's suffix-cut generation this page was read in: pass it to the next call. */
  cutGeneration: bigint;
}

/**
 * Replays every record with LSN ≥ `fromLsn` from the sealed segments of the log in `dir` (a
 * path or a `file:` URL), in LSN order, calling `fn` for each (a returned promise is awaited
 * before the next record). Payloads are views into the mappings: keep them as long as you
 * like, they keep their segment's mapping alive.
 *
 * Throws WAL_REPLAY_BELOW_FLOOR when `fromLsn` is below the retained floor (or the writer
 * deletes the segments ahead while it reads), WAL_CORRUPT (with `details.segment` and
 * `details.offset`) for damage in a sealed segment or a malformed frame anywhere,
 * WAL_MISSING_SEGMENT when segments do not follow each other (LSNs an earlier salvage
 * recorded as lost, in the GAPS file, are skipped, not missing), and WAL_TRUNCATED when the
 * writer cuts the log (`truncateAfter`) while it reads, or since the replay whose
 * `cutGeneration` is passed: it reads the CUT file after mapping each segment and at the
 * end, so it never goes on into the history written after a cut, and a failure while a cut
 * ran is reported as the cut, never as damage (decision 0341). It starts once a cut under
 * way is done (WAL_BAD_STATE if that takes more than 10 s).
 */
export async function replaySegmentsMmap(
  dir: string | URL,
  fromLsn: bigint,
  fn: (record: WalRecord) => void | Promise<void>,
  options: ReplayOptions = {},
): Promise<ReplaySummary> {
  if (typeof fn !== 'function') invalidArgument('fn must be a function called for each record');
  const cursor = await DirectoryReplay.start(dir, fromLsn, options);
  let records = 0;
  let lastLsn: bigint | null = null;
  let handedOut = fromLsn - 1n;
  // A mapping never waits: the event loop turns only when a slice is spent (decision 0312).
  const slices = new ReadSlices();
  const counted = (record: WalRecord) => {
    records++;
    handedOut = record.lsn;
    return fn(record);
  };
  try {
    // Segment by segment, each through the reader's own loop (drain): no call per record
    // beyond `fn`. Only the first segment read can hold records below fromLsn.
    for (let reader = cursor.nextSegment(); reader !== null; reader = cursor.nextSegment()) {
      if (lastLsn === null) {
        let record = reader.nextRecord();
        while (record !== null && record.lsn < fromLsn) record = reader.nextRecord();
        if (record === null) continue;
        const result = counted(record);
        if (isThenable(result)) await result;
      }
      for (
        let pending = reader.drain(counted, slices);
        pending !== undefined;
        pending = reader.drain(counted, slices)
      )
        await pending;
      lastLsn = reader.lastLsn ?? lastLsn;
    }
  } catch (error) {
    throw cursor.watch.judge(error, handedOut);
  } finally {
    cursor.close();
  }
  const nextLsn = lastLsn === null ? fromLsn : lastLsn + 1n;
  return {
    records,
    nextLsn,
    segments: cursor.segmentsOpened,
    cutGeneration: cursor.watch.generation,
  };
}

/**
 * At most `max` records with LSN ≥ `fromLsn`, for paged catch-up: call again with
 * `nextLsn` while `hasMore`. Records of the active segment are not included (unless
 * `includeActive`): when `hasMore` is false the caller continues from `nextLsn` with the
 * writer that owns the active segment.
 */
export async function replaySegmentsMmapLimit(
  dir: string | URL,
  fromLsn: bigint,
  max: number,
  options: ReplayOptions = {},
): Promise<ReplayPage> {
  if (!Number.isSafeInteger(max) || max < 1)
    badArgument('max', 'a positive integer (records per page)', max);
  const cursor = await DirectoryReplay.start(dir, fromLsn, options);
  const records: WalRecord[] = [];
  let next: WalRecord | null;
  try {
    next = cursor.next();
    while (next !== null && records.length < max) {
      records.push(next);
      next = cursor.next();
    }
  } catch (error) {
    throw cursor.watch.judge(error, records.at(-1)?.lsn ?? fromLsn - 1n);
  } finally {
    cursor.close();
  }
  const last = records.at(-1);
  return {
    records,
    hasMore: next !== null,
    nextLsn: last === undefined ? fromLsn : last.lsn + 1n,
    cutGeneration: cursor.watch.generation,
  };
}

/**
 * The replay of a log directory's segment files, without a writer or engine: walks the
 * records of consecutive segments, checking that each follows the one before. (The Wal's
 * `WalRecordSource` reads through its engine instead; segmented's `replay.ts` reads through a
 * StorageIo.)
 */
class DirectoryReplay {
  private readonly from: bigint;
  private readonly options: ReplayOptions;
  /** What each segment's reader is opened with (the replay's own options left out). */
  private readonly readerOptions: MmapWalReaderOptions;
  private readonly segments: SegmentFile[];
  /** First LSN of the active segment when it is not read: the sealed ones must end just before it. */
  private readonly activeFirstLsn: bigint | null;
  private index: number;
  private reader: MmapWalReader | null = null;
  private segment: SegmentFile | null = null;
  /** The LSN the next record must have (null before the first segment is opened). */
  private expected: bigint | null = null;
  private readonly gaps: LsnGap[];
  /** The log's id: a version 2 segment with another is refused before any of its records. */
  private readonly logId: bigint | undefined;
  /** The last record handed out (its LSN + 1 is `nextLsn`; computed on demand to keep `next()` allocation-free). */
  private last: WalRecord | null = null;
  /** Still inside the records below fromLsn (only the first segment read can hold any). */
  private skipping = true;
  private readonly dir: string;
  segmentsOpened = 0;

  /**
   * The replay of `logDir` from `fromLsn`, founded on a look at its files that no cut
   * spoilt: taken once no cut is under way, and again while one ran during it (up to
   * READ_ONLY_LOOKS times). A look's failure with the CUT file unchanged is the log's own.
   */
  static async start(
    logDir: string | URL,
    fromLsn: bigint,
    options: ReplayOptions,
  ): Promise<DirectoryReplay> {
    const dir = pathOption(logDir, 'dir');
    if (typeof fromLsn !== 'bigint' || fromLsn < 1n)
      badArgument('fromLsn', 'a bigint ≥ 1n (LSNs start at 1)', fromLsn);
    if (typeof options !== 'object' || options === null)
      invalidArgument('options must be an object');
    checkOptionKeys(options, Object.keys(REPLAY_OPTIONS), 'replaySegmentsMmap()');
    for (let looks = 1; ; looks++) {
      const watch = await CutWatch.settled(dir);
      let replay: DirectoryReplay;
      try {
        replay = new DirectoryReplay(dir, fromLsn, options, watch);
      } catch (error) {
        if (looks >= LOOKS || watch.unchanged()) throw error;
        continue;
      }
      if (watch.unchanged()) {
        if (options.cutGeneration !== undefined) replay.checkPagesBefore(options.cutGeneration);
        return replay;
      }
      if (looks >= LOOKS) {
        throw new WalError(
          WalErrorCode.BAD_STATE,
          `the writer of ${dir} cut the log (truncateAfter) during each of ${looks} looks of this replay; replay again when it cuts less often`,
        );
      }
    }
  }

  private constructor(
    dir: string,
    fromLsn: bigint,
    options: ReplayOptions,
    readonly watch: CutWatch,
  ) {
    this.from = fromLsn;
    this.options = options;
    const { includeActive, releasePages, cutGeneration, ...readerOptions } = options;
    this.readerOptions = readerOptions;
    this.dir = dir;
    const all = listSegmentFiles(dir);
    this.logId = logIdOf(all);
    const floor = readFloor(dir) ?? all[0]?.firstLsn ?? null;
    this.gaps = readGaps(dir);
    if (floor !== null && fromLsn < floor)
      throw new WalError(
        WalErrorCode.REPLAY_BELOW_FLOOR,
        `cannot replay from LSN ${fromLsn}: records below ${floor} were truncated from ${dir}; replay from ${floor} or later (or restore from a snapshot taken before the truncation)`,
        { details: { fromLsn, floor } },
      );
    const first = all[0];
    if (
      first !== undefined &&
      fromLsn < first.firstLsn &&
      !gapsCover(this.gaps, floor ?? fromLsn, first.firstLsn - 1n)
    )
      throw new WalError(
        WalErrorCode.MISSING_SEGMENT,
        `records ${fromLsn}..${first.firstLsn - 1n} are missing from ${dir}: the floor is ${floor} but the first segment starts at ${first.firstLsn}; restore the missing segment`,
        { details: { segment: first.path, fromLsn } },
      );
    const active = options.includeActive === true ? undefined : all.pop();
    this.activeFirstLsn = active?.firstLsn ?? null;
    this.segments = all;
    // Start at the last segment that begins at or before fromLsn; earlier ones hold only older records.
    let start = 0;
    while (start + 1 < all.length && all[start + 1]!.firstLsn <= fromLsn) start++;
    this.index = active !== undefined && fromLsn >= active.firstLsn ? all.length : start;
  }

  get nextLsn(): bigint {
    return this.last === null ? this.from : this.last.lsn + 1n;
  }

  next(): WalRecord | null {
    const from = this.from;
    for (;;) {
      let reader = this.reader;
      if (reader === null) {
        if (this.index >= this.segments.length) {
          this.checkEnd();
          return null;
        }
        reader = this.open(this.segments[this.index++]!);
      }
      const record = reader.nextRecord();
      if (record !== null) {
        if (this.skipping) {
          if (record.lsn < from) continue;
          this.skipping = false;
        }
        this.last = record;
        return record;
      }
      this.finishSegment(reader);
    }
  }

  /**
   * The reader of the next segment, after finishing (and checking) the one before; null
   * after the last. The caller skips records below fromLsn itself.
   */
  nextSegment(): MmapWalReader | null {
    if (this.reader !== null) this.finishSegment(this.reader);
    if (this.index >= this.segments.length) {
      this.checkEnd();
      return null;
    }
    return this.open(this.segments[this.index++]!);
  }

  private open(segment: SegmentFile): MmapWalReader {
    const lastLsn = this.lastLsnOf(segment);
    let reader: MmapWalReader;
    try {
      reader = MmapWalReader.open(
        segment.path,
        lastLsn === undefined ? this.readerOptions : { ...this.readerOptions, lastLsn },
      );
    } catch (error) {
      if (isWalError(error, WalErrorCode.IO) && error.details.errno === Errno.ENOENT)
        throw this.gone(segment, error);
      throw error;
    }
    // The segments were listed at the start: a cut since may have replaced this one. Its
    // mapping, once made, keeps the bytes it maps (a cut replaces files, never rewrites them).
    if (!this.watch.unchanged()) {
      reader.close();
      throw this.watch.truncated(this.handedOutTo());
    }
    this.segmentsOpened++;
    const headerLsn = reader.header?.firstLsn;
    // A zero-length active segment: its creator crashed before writing the header.
    const emptyActive = reader.header === null && this.isActive();
    if (headerLsn !== segment.firstLsn && !emptyActive) {
      reader.close();
      throw new WalError(
        WalErrorCode.CORRUPT,
        `${segment.path} is named for LSN ${segment.firstLsn} but its header says ${headerLsn ?? 'nothing (the file is empty)'}; the segment is damaged or misnamed`,
        { details: { segment: segment.path, offset: 0 } },
      );
    }
    if (reader.header !== null) {
      try {
        checkLogId(reader.header, segment.path, this.logId);
      } catch (error) {
        reader.close();
        throw error;
      }
    }
    const expected = this.expected;
    if (expected !== null && !this.follows(expected, segment.firstLsn)) {
      reader.close();
      throw new WalError(
        WalErrorCode.MISSING_SEGMENT,
        `${segment.path} starts at LSN ${segment.firstLsn} but the segment before it ends at ${expected - 1n}; a segment is missing (or damaged) — restore it`,
        { details: { segment: segment.path, expectedLsn: expected } },
      );
    }
    this.expected = segment.firstLsn;
    this.segment = segment;
    this.reader = reader;
    return reader;
  }

  private finishSegment(reader: MmapWalReader): void {
    const segment = this.segment!;
    const stop = reader.stopReason!;
    const isActive = this.isActive();
    // A sealed segment was complete and synced before the next one was created, so any
    // damage in it is corruption. The active one may end in a torn write (the writer's
    // recovery cuts it).
    if (stop.kind === 'corrupt' || (stop.kind === 'torn' && !isActive)) {
      this.close();
      throw new WalError(
        WalErrorCode.CORRUPT,
        `${isActive ? 'segment' : 'sealed segment'} ${segment.path} is damaged at offset ${stop.offset} (${stop.kind}: ${stop.reason}); restore it from a replica or backup`,
        { details: { segment: segment.path, offset: stop.offset, kind: stop.kind } },
      );
    }
    this.expected = reader.lastLsn === null ? segment.firstLsn : reader.lastLsn + 1n;
    if (this.options.releasePages === true) reader.releasePages();
    reader.close();
    this.reader = null;
    this.segment = null;
  }

  /** Closes the segment being read, if any (its records stay valid). */
  close(): void {
    this.reader?.close();
    this.reader = null;
  }

  /**
   * The last LSN a sealed segment must hold: its successor's first LSN − 1, unless a gap
   * lies between (then only the successor's start is checked, in `open`). Called once the
   * index has moved past `segment`.
   */
  private lastLsnOf(segment: SegmentFile): bigint | undefined {
    if (this.isActive()) return undefined;
    const nextFirst = this.segments[this.index]?.firstLsn ?? this.activeFirstLsn;
    if (nextFirst === null || nextFirst <= segment.firstLsn) return undefined;
    const last = nextFirst - 1n;
    if (this.gaps.some((gap) => gap.from <= last && gap.to >= segment.firstLsn)) return undefined;
    return last;
  }

  /** Whether the segment being read is the log's active one (read only with includeActive). */
  private isActive(): boolean {
    return this.activeFirstLsn === null && this.index === this.segments.length;
  }

  /** Whether a segment starting at `firstLsn` may come where LSN `expected` is next. */
  private follows(expected: bigint, firstLsn: bigint): boolean {
    return (
      firstLsn === expected ||
      (firstLsn > expected && gapsCover(this.gaps, expected, firstLsn - 1n))
    );
  }

  /** At the end: no cut since the start, and the sealed segments reach the active one. */
  private checkEnd(): void {
    this.checkNoCutSince();
    this.checkEndsBeforeActive();
  }

  /** WAL_TRUNCATED when the writer cut the log since this replay started (or is cutting it). */
  private checkNoCutSince(): void {
    if (this.watch.unchanged()) return;
    this.close();
    throw this.watch.truncated(this.handedOutTo());
  }

  /**
   * The last LSN handed out, as of the segments finished (where the cut checks run), by
   * `next()` or by a caller draining the readers itself; `fromLsn − 1` before any.
   */
  private handedOutTo(): bigint {
    const before = this.from - 1n;
    const expected = this.expected;
    return expected !== null && expected - 1n > before ? expected - 1n : before;
  }

  /**
   * Paging: whether the pages read in generation `before` may go on in this one: only when
   * the cuts made since (as far as the CUT file remembers them) kept every record they
   * handed out.
   */
  private checkPagesBefore(before: bigint): void {
    const cut = this.watch.start;
    if (before === this.watch.generation) return;
    const handedOut = this.from - 1n;
    const lowest = cut === null || before > cut.generation ? null : lowestCutSince(cut, before);
    if (lowest === null || handedOut > lowest)
      throw truncatedSince(this.dir, before, cut, handedOut);
  }

  /**
   * Why a listed segment is gone: the writer cut the log (thrown from here), deleted records
   * below a new floor, or someone removed it.
   */
  private gone(segment: SegmentFile, cause: WalError): WalError {
    this.checkNoCutSince();
    const floor = readFloor(this.dir);
    if (floor !== null && floor > segment.firstLsn)
      return new WalError(
        WalErrorCode.REPLAY_BELOW_FLOOR,
        `the writer of ${this.dir} deleted ${segment.path} (truncateBefore or retention: the floor is now ${floor}) while this replay read the log; replay again from ${floor}`,
        { details: { fromLsn: this.handedOutTo() + 1n, floor }, cause },
      );
    return new WalError(
      WalErrorCode.MISSING_SEGMENT,
      `${segment.path} was deleted while this replay read the log, and neither a cut nor a new floor of the log says why; restore it, or replay again`,
      { details: { segment: segment.path, fromLsn: this.handedOutTo() + 1n }, cause },
    );
  }

  private checkEndsBeforeActive(): void {
    const active = this.activeFirstLsn;
    const expected = this.expected;
    if (active === null || expected === null || this.follows(expected, active)) return;
    throw new WalError(
      WalErrorCode.MISSING_SEGMENT,
      `the sealed segments end at LSN ${expected - 1n} but the active segment starts at ${active}; records in between are missing — restore the segment that held them`,
      { details: { expectedLsn: expected, activeFirstLsn: active } },
    );
  }
}
