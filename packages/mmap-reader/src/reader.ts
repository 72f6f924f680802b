import {
  badArgument,
  type DamageKind,
  describeFrameStop,
  type FileHeader,
  FRAME_HEADER_SIZE,
  type FrameCipher,
  FrameStop,
  frameRecords,
  isThenable,
  isWalError,
  plainRecordLsn,
  type ReadSlices,
  RecordCursor,
  WalError,
  WalErrorCode,
  type WalRecord,
} from '@walnut/codec';
import type { FrameSource } from './frame-source.js';
import type { ReaderMode } from './mode.js';
import { type MmapWalReaderOptions, type OpenedFile, openSegmentFile } from './opening.js';

/** LSNs below this compare exactly as numbers, batch counts included. */
const SAFE_LSN = 2 ** 52;

/** Where and why a reader stopped (see FORMAT.md "End of log, torn tail, corruption"). */
export interface StopReason {
  /** eof: clean end (or zero fill); torn: damage with nothing valid after; corrupt: damage followed by valid frames, or a malformed frame. */
  kind: DamageKind;
  /** File offset of the first byte that is not a good frame. */
  offset: number;
  reason: string;
}

export type MadviseState = 'sequential' | 'dontneed' | null;

export interface ReaderDescription {
  path: string;
  mode: ReaderMode;
  /** Why this mode (e.g. the addon's load failure). */
  modeReason: string;
  length: number;
  madviseState: MadviseState;
  encrypted: boolean;
  /** Payloads are views into the mapping (false in 'read' mode and for encrypted segments). */
  zeroCopy: boolean;
}

/**
 * Reads one sealed segment (or portable log file): the file header, then records in
 * order until the end of data or the first damage. In 'mmap' mode payloads and meta are
 * views into a private copy-on-write mapping that the garbage collector owns: a view that
 * outlives the reader keeps the mapping alive, and writing into one changes only this
 * process's copy of that page, never the file. Map sealed files only — a file truncated while
 * mapped raises SIGBUS on the next touch of the lost pages, which kills the process.
 */
export class MmapWalReader {
  readonly path: string;
  readonly mode: ReaderMode;
  readonly modeReason: string;
  /** The decoded file header; null for a zero-length file. */
  readonly header: FileHeader | null;
  private readonly source: FrameSource;
  private readonly cipher: FrameCipher | null;
  private readonly maxBody: number;
  /** Decodes record bodies in place (codec's; it keeps the mapping's ArrayBuffer at hand). */
  private readonly cursor = new RecordCursor();
  /** The file's version has record times (2 on). */
  private readonly timed: boolean;
  /** The LSN the next frame must start with, as a number while below SAFE_LSN (else NaN and see expectedBig); -1: any. */
  private expectedNumber: number;
  private expectedBig: bigint | null = null;
  /** `lastLsn` as a number when below SAFE_LSN, else Infinity (the bigint path checks it). */
  private readonly lastNumber: number;
  private readonly lastBig: bigint | null;
  /** File offset after the current run's frames (or of the damage, once stopped). */
  private decodedTo: number;
  /** Set when reading met the end or damage; reported once every record before it was handed out. */
  private stop: StopReason | null = null;
  /**
   * Frames of the current run (`source.table`): `at` is the next to judge and hand out. A
   * frame is judged (kind, LSN continuity, `lastLsn`) as it is reached, so the common frame —
   * a plain record with the LSN expected — is read once and built as it is handed out, and
   * damage stops the reader before any frame after it is looked at.
   */
  private runCount = 0;
  private at = 0;
  /** `runCount` while nextRecord's short path may run (no pending records, open, plaintext), else 0. */
  private fastEnd = 0;
  /** The records of one uncommon frame (a batch, an encrypted or large-LSN record), built whole. */
  private pending: WalRecord[] = [];
  private pendingAt = 0;
  /** File offset just past the frame the pending records came from. */
  private pendingEnd = 0;
  /** Records handed out so far. */
  private handedOut = 0;
  private closed = false;

  private constructor(opened: OpenedFile) {
    const { path, source, header, cipher, maxBody, lastLsn } = opened;
    this.path = path;
    this.mode = source.mode;
    this.modeReason = opened.reason;
    this.source = source;
    this.header = header;
    this.cipher = cipher;
    // Version 1 records have no time; version 2 times count from the header's createdAtMs.
    this.cursor.useFile(header ?? undefined);
    this.timed = this.cursor.allowsTime;
    this.maxBody = maxBody;
    this.lastBig = lastLsn;
    this.lastNumber =
      lastLsn === null || lastLsn >= BigInt(SAFE_LSN) ? Number.POSITIVE_INFINITY : Number(lastLsn);
    const firstLsn = header === null ? 0n : header.firstLsn;
    this.expectedNumber =
      firstLsn === 0n ? -1 : firstLsn < BigInt(SAFE_LSN) ? Number(firstLsn) : Number.NaN;
    this.expectedBig = firstLsn === 0n ? null : firstLsn;
    this.decodedTo = header === null ? 0 : header.headerLength;
    if (header === null) this.stop = { kind: 'eof', offset: 0, reason: 'empty file' };
    else source.seek(header.headerLength);
  }

  /**
   * Opens `file` (a path or a `file:` URL) for reading (synchronously: mapping a file is one
   * system call). Throws
   * WAL_IO if it cannot be opened or mapped, WAL_CORRUPT / WAL_UNSUPPORTED_FORMAT for a
   * bad header, WAL_KEY_MISSING for an encrypted file whose key the ring lacks.
   */
  static open(file: string | URL, options: MmapWalReaderOptions = {}): MmapWalReader {
    return new MmapWalReader(openSegmentFile(file, options));
  }

  /** File size in bytes (at most `end`, when it was given). */
  get length(): number {
    return this.source.length;
  }

  /** File offset of the next unread frame: the end of the last good frame read. */
  get offset(): number {
    if (this.pendingAt < this.pending.length) return this.pendingEnd;
    const at = this.at;
    if (at < this.runCount) {
      const source = this.source;
      return source.runFileOffset + source.runBase + source.table[2 * at]!;
    }
    return this.decodedTo;
  }

  /** LSN of the last record `nextRecord()` returned or `skipTo()` passed over; null before the first. */
  get lastLsn(): bigint | null {
    if (this.handedOut === 0) return null;
    // A batch's records are checked as one: `expected` is already past its last.
    const left = this.pending.length - this.pendingAt;
    return (this.expectedLsn() ?? 1n) - 1n - BigInt(left);
  }

  /** True when the file holds no frame bytes (zero length, or only the file header). */
  get isEmpty(): boolean {
    return this.source.length <= (this.header?.headerLength ?? 0);
  }

  /** The madvise hint in force on the mapping: 'sequential' after open, 'dontneed' after releasePages(); null in 'read' mode. */
  get madviseState(): MadviseState {
    return this.source.madviseState;
  }

  /** Why reading stopped; null until `nextRecord()` has returned null. */
  get stopReason(): StopReason | null {
    return this.pendingAt < this.pending.length || this.at < this.runCount ? null : this.stop;
  }

  /**
   * The next record, or null at the end of the data or at the first damage (then
   * `stopReason` says which and where). Throws WAL_DECRYPT_FAILED when an encrypted frame
   * does not authenticate under the ring's key.
   */
  nextRecord(): WalRecord | null {
    // The common frame, kept short enough for a caller's loop to inline: a plain record with
    // the LSN expected. LSNs well below 2^53 compare exactly as numbers, without BigInt
    // arithmetic; a plain LSN is never 0, so an expected -1 (any) or NaN never matches.
    const i = this.at;
    if (i < this.fastEnd) {
      const source = this.source;
      const table = source.table;
      const buf = source.runBuf;
      const start = source.runBase + table[2 * i]! + FRAME_HEADER_SIZE;
      const end = start + table[2 * i + 1]!;
      const lsn = plainRecordLsn(buf, start, end, this.timed);
      if (lsn === this.expectedNumber && lsn < SAFE_LSN && lsn <= this.lastNumber) {
        this.at = i + 1;
        this.expectedNumber = lsn + 1;
        this.handedOut++;
        return this.cursor.plainRecordAt(buf, start, end, lsn);
      }
    }
    return this.nextRecordSlowly();
  }

  /** Everything else: pending records of a batch, uncommon frames, new runs, the end, a closed reader. */
  private nextRecordSlowly(): WalRecord | null {
    if (this.closed) throw WalError.closed(`the reader of ${this.path}`);
    for (;;) {
      if (this.pendingAt < this.pending.length) {
        this.handedOut++;
        const record = this.pending[this.pendingAt++]!;
        if (this.pendingAt === this.pending.length) this.fastEnd = this.plainRunEnd();
        return record;
      }
      const i = this.at;
      if (i < this.runCount) {
        const source = this.source;
        const table = source.table;
        const buf = source.runBuf;
        const start = source.runBase + table[2 * i]! + FRAME_HEADER_SIZE;
        const end = start + table[2 * i + 1]!;
        this.at = i + 1;
        const lsn = this.cipher === null ? plainRecordLsn(buf, start, end, this.timed) : 0;
        if (lsn === this.expectedNumber && lsn < SAFE_LSN && lsn <= this.lastNumber) {
          this.expectedNumber = lsn + 1;
          this.handedOut++;
          return this.cursor.plainRecordAt(buf, start, end, lsn);
        }
        this.decodeFrame(buf, start, end, source.runFileOffset + start - FRAME_HEADER_SIZE);
        continue;
      }
      if (this.stop !== null) return null;
      this.nextRun();
    }
  }

  /**
   * Passes over the records below `lsn` without building them, so that the next
   * `nextRecord()` returns the first record at or after it. Frames are judged as
   * `nextRecord()` judges them (CRC, LSN sequence, `lastLsn`): damage met on the way stops
   * the reader the same way. `lastLsn` counts the records passed over as read. A frame
   * whose LSNs the reader cannot see without decoding it (a batch, an encrypted or a
   * compressed frame) is decoded, and its records below `lsn` dropped.
   *
   * `frames` bounds the frames passed over in this call, for a caller that must let the
   * event loop turn during a long skip (a step maps a run or passes a frame): false when it
   * used them up (call again to go on), true once the next record is at or after `lsn` or
   * the reader stopped.
   */
  skipTo(lsn: bigint, frames = Number.POSITIVE_INFINITY): boolean {
    if (this.closed) throw WalError.closed(`the reader of ${this.path}`);
    if (typeof lsn !== 'bigint') badArgument('skipTo(lsn): lsn', 'a bigint LSN', lsn);
    if (!(frames > 0)) badArgument('skipTo(lsn, frames): frames', 'a number above 0', frames);
    // Plain LSNs are below SAFE_LSN, so every one is below an `lsn` that is not.
    const target = lsn < BigInt(SAFE_LSN) ? Number(lsn) : Number.POSITIVE_INFINITY;
    for (let left = frames; ; left--) {
      if (this.pendingAt < this.pending.length) {
        const pending = this.pending;
        while (this.pendingAt < pending.length && pending[this.pendingAt]!.lsn < lsn) {
          this.pendingAt++;
          this.handedOut++;
        }
        if (this.pendingAt < pending.length) return true;
        this.fastEnd = this.plainRunEnd();
      }
      if (left <= 0) return false;
      const i = this.at;
      if (i < this.runCount) {
        const source = this.source;
        const table = source.table;
        const buf = source.runBuf;
        const start = source.runBase + table[2 * i]! + FRAME_HEADER_SIZE;
        const end = start + table[2 * i + 1]!;
        const plain = this.cipher === null ? plainRecordLsn(buf, start, end, this.timed) : 0;
        if (plain === this.expectedNumber && plain < SAFE_LSN && plain <= this.lastNumber) {
          if (plain >= target) return true;
          this.at = i + 1;
          this.expectedNumber = plain + 1;
          this.handedOut++;
          continue;
        }
        this.at = i + 1;
        this.decodeFrame(buf, start, end, source.runFileOffset + start - FRAME_HEADER_SIZE);
        continue;
      }
      if (this.stop !== null) return true;
      this.nextRun();
    }
  }

  /** Where nextRecord's short path ends: the run's end, unless the slow path must run first. */
  private plainRunEnd(): number {
    return this.closed || this.cipher !== null || this.pendingAt < this.pending.length
      ? 0
      : this.runCount;
  }

  /**
   * Hands every remaining record to `fn`, in order, as `nextRecord()` would, until the reader
   * stops (then `stopReason` says why, and the result is undefined) or `fn` returns a
   * promise (or any thenable), which is returned as it is: await it, then call `drain` again
   * to go on. One call walks a whole run of frames in a loop of its own, without a method
   * call per record. Inside `fn` the reader is where nextRecord() would leave it (`lastLsn`
   * is the record given); if `fn` throws, that record counts as handed out. With `slices`,
   * it also returns, as such a promise, the event loop's turn once their slice is spent: a
   * mapping never makes it wait. It looks between runs (at most 4096 frames) and each time
   * it is called, never inside a run: a turn in the middle of one made replay ~15% slower
   * (decision 0312).
   */
  drain(fn: (record: WalRecord) => unknown, slices?: ReadSlices): PromiseLike<unknown> | undefined {
    if (this.closed) throw WalError.closed(`the reader of ${this.path}`);
    if (typeof fn !== 'function')
      badArgument('drain(fn): fn', 'a function called for each record', fn);
    if (slices !== undefined && typeof slices.spent !== 'function')
      badArgument('drain(fn, slices): slices', 'a ReadSlices from @walnut/codec', slices);
    for (;;) {
      if (slices?.spent()) return slices.pause();
      const i = this.at;
      if (i < this.fastEnd) {
        const pending = this.drainRun(fn, i);
        if (pending !== undefined) return pending;
      }
      const record = this.nextRecord();
      if (record === null) return undefined;
      const result = fn(record);
      if (isThenable(result)) return result;
    }
  }

  /**
   * The loop of `drain` over the plain records of the current run from frame `i`: stops at
   * the first frame that is not a plain record with the expected LSN (nextRecord judges it)
   * or when `fn` returns a promise.
   */
  private drainRun(
    fn: (record: WalRecord) => unknown,
    i: number,
  ): PromiseLike<unknown> | undefined {
    const source = this.source;
    const table = source.table;
    const buf = source.runBuf;
    const base = source.runBase;
    const n = this.fastEnd;
    const last = this.lastNumber;
    const cursor = this.cursor;
    for (; i < n; i++) {
      const start = base + table[2 * i]! + FRAME_HEADER_SIZE;
      const end = start + table[2 * i + 1]!;
      const lsn = plainRecordLsn(buf, start, end, this.timed);
      if (lsn !== this.expectedNumber || lsn >= SAFE_LSN || lsn > last) return undefined;
      // The reader's state moves before fn runs: fn may look at `lastLsn` or throw.
      this.at = i + 1;
      this.expectedNumber = lsn + 1;
      this.handedOut++;
      const result = fn(cursor.plainRecordAt(buf, start, end, lsn));
      if (isThenable(result)) return result;
    }
    return undefined;
  }

  /** Makes the next run of CRC-verified frames current, or stops the reader at its end. */
  private nextRun(): void {
    this.at = 0;
    this.runCount = 0;
    this.fastEnd = 0;
    const source = this.source;
    const n = source.nextRun();
    if (n === 0) {
      this.stopAtDamage();
      return;
    }
    this.runCount = n;
    this.fastEnd = this.plainRunEnd();
    this.decodedTo = source.runEnd;
  }

  /**
   * Decodes an uncommon frame into `pending`; false when it stopped the reader as corrupt
   * (then no frame after it is handed out).
   */
  private decodeFrame(buf: Buffer, start: number, end: number, frameOffset: number): boolean {
    const frameEnd = frameOffset + FRAME_HEADER_SIZE + (end - start);
    const records: WalRecord[] = [];
    try {
      const content = frameRecords(buf, start, end, records, {
        file: this.header ?? undefined,
        cipher: this.cipher,
      });
      if (content === 'padding') return true;
      if (content === 'encrypted')
        return this.corrupt(
          'an encrypted frame in a segment whose header says it is not encrypted',
          frameOffset,
        );
    } catch (error) {
      if (isWalError(error, WalErrorCode.CORRUPT)) return this.corrupt(error.message, frameOffset);
      if (isWalError(error)) {
        error.details.segment ??= this.path;
        error.details.offset ??= frameOffset;
      }
      throw error;
    }
    if (!this.inSequence(records[0]!.lsn, records.length, frameOffset)) return false;
    this.pending = records;
    this.pendingAt = 0;
    this.pendingEnd = frameEnd;
    this.fastEnd = 0;
    return true;
  }

  /** Checks that a frame of `count` records starts at the LSN expected (LSNs are never skipped). */
  private inSequence(first: bigint, count: number, frameOffset: number): boolean {
    const expected = this.expectedLsn();
    if (expected !== null && first !== expected)
      return this.corrupt(`LSN ${first} where ${expected} was expected`, frameOffset);
    const next = first + BigInt(count);
    if (this.lastBig !== null && next - 1n > this.lastBig)
      return this.corrupt(
        `LSN ${next - 1n} past ${this.lastBig}, the last LSN the log has in this segment (it is not the segment the log wrote)`,
        frameOffset,
      );
    this.expectedNumber = next < BigInt(SAFE_LSN) ? Number(next) : Number.NaN;
    this.expectedBig = next;
    return true;
  }

  /** The LSN the next frame must start with; null when any is accepted (header firstLsn 0). */
  private expectedLsn(): bigint | null {
    const n = this.expectedNumber;
    if (Number.isNaN(n)) return this.expectedBig;
    return n < 0 ? null : BigInt(n);
  }

  /** A frame whose CRC matched but whose content is invalid: a writer never produces one. */
  private corrupt(reason: string, offset: number): false {
    this.runCount = this.at;
    this.fastEnd = 0;
    this.decodedTo = offset;
    this.stop = { kind: 'corrupt', offset, reason };
    return false;
  }

  private stopAtDamage(): void {
    const source = this.source;
    const offset = source.stopOffset;
    this.decodedTo = offset;
    if (source.stopCode === FrameStop.END) {
      this.stop = this.endBeforeLast(offset) ?? { kind: 'eof', offset, reason: 'end of data' };
      return;
    }
    const kind = source.classify(offset, this.maxBody);
    const what = describeFrameStop(source.stopCode);
    const reason =
      kind === 'eof'
        ? 'zero-filled from here to the end'
        : kind === 'torn'
          ? `${what}, and no valid frame follows`
          : `${what}, but valid frames follow`;
    // A file that must reach lastLsn and ends short, cleanly or torn, was cut or zeroed.
    this.stop = (kind === 'corrupt' ? null : this.endBeforeLast(offset)) ?? {
      kind,
      offset,
      reason,
    };
  }

  /** An end at `offset` (clean or torn) that comes before `lastLsn`: damage (a cut or zeroed stretch). */
  private endBeforeLast(offset: number): StopReason | null {
    const expected = this.expectedLsn();
    if (this.lastBig === null || expected === null || expected > this.lastBig) return null;
    return {
      kind: 'corrupt',
      offset,
      reason: `the records end at LSN ${expected - 1n} but the log has LSNs up to ${this.lastBig} in this segment: LSNs ${expected}..${this.lastBig} are missing — a segment file that held them was removed, or this one was cut or zeroed (\`walnut verify\` on the log says which)`,
    };
  }

  /** Iterates `nextRecord()` until it returns null. */
  *records(): IterableIterator<WalRecord> {
    for (let record = this.nextRecord(); record !== null; record = this.nextRecord()) yield record;
  }

  [Symbol.iterator](): IterableIterator<WalRecord> {
    return this.records();
  }

  /**
   * Tells the kernel the pages may go: MADV_PAGEOUT on the mapping (clean pages only, so
   * bytes a caller wrote into a view stay its own) and posix_fadvise(DONTNEED) on the file
   * (`madviseState` then reads 'dontneed'). Use it after reading a segment end to end.
   * Views stay valid (a later touch reads the data back). Returns whether both took
   * effect (always false in 'read' mode).
   */
  releasePages(): boolean {
    return this.source.releasePages();
  }

  describe(): ReaderDescription {
    return {
      path: this.path,
      mode: this.mode,
      modeReason: this.modeReason,
      length: this.length,
      madviseState: this.madviseState,
      encrypted: this.cipher !== null,
      zeroCopy: this.mode === 'mmap' && this.cipher === null,
    };
  }

  /** `using reader = …` closes it when the scope ends, as `close()` does. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Ends reading (closes the file in 'read' mode). In 'mmap' mode the mapping itself is
   * released by the garbage collector once no view of it remains.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fastEnd = 0;
    this.source.close();
  }
}
