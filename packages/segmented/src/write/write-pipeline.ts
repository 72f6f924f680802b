import { FrameScanner, isWalError, MAX_LSN, sealFrames, WalErrorCode } from '@walnut/codec';
import {
  alignedBuffer,
  BufferPool,
  DIRECT_IO_SECTOR,
  Errno,
  type IoCompletion,
  isNoSpace,
  judgeWrite,
  type StorageIo,
  type SubmitOptions,
  sendRest,
  writeError,
} from '@walnut/storage-io';
import { isNamed, type Segment } from '../files/segment.js';
import {
  alignDown,
  BLOCK,
  BlockTail,
  blockBeforeEnd,
  directBufferSize,
  newDirectBuffer,
} from './direct-io.js';
import { markIfDue } from './durable-marks.js';
import type { RollbackPoint } from './failures.js';
import { newSegmentWrite, type SegmentWrite } from './pending-write.js';
import type { Counters } from './stats.js';
import type { WritebackAhead } from './writeback.js';
import type { ZeroFiller } from './zero-fill.js';

const { EIO } = Errno;
const DSYNC: SubmitOptions = { dsync: true };

/** What the write pipeline asks of the log around it. */
export interface WritePipelineHost {
  /** The segment new frames go to. */
  active(): Segment;
  /** A write was queued for a segment whose creation has not started: start it. */
  startCreation(seg: Segment): void;
  poisoned(): boolean;
  /** A rollback runs: held writes stay held (it discards them). */
  rollingBack(): boolean;
  closed(): boolean;
  poison(err: unknown): void;
  /** A write failed for lack of space: the records from `lostFrom` on are to be rolled back. */
  noSpace(seg: Segment, offset: number, lostFrom: bigint, err: unknown): void;
  /** writtenLsn advanced to `lsn`. */
  written(lsn: bigint): void;
  /** completedLsn advanced to `lsn`. */
  completed(lsn: bigint): void;
}

/**
 * The write buffer and the writes that leave it: frames are encoded into `buf` by the
 * append methods of SegmentedWal (inline, between `room()` and `commit()`, so a record
 * costs no extra call), full buffers go to the StorageIo at once, many writes in flight,
 * and writtenLsn moves over the prefix of completed ones
 * (docs/decisions/0301-segmented-write-pipeline-and-group-commit.md).
 *
 * With direct I/O the buffer is a view past the partial block the file already holds
 * (direct-io.ts), and two writes of one block never are in flight together.
 */
export class WritePipeline {
  /** Where frames are encoded: `bufBase` itself, or with direct I/O a view into it. */
  buf: Buffer;
  /**
   * `buf` holds plain frames encoded without their CRC: `submitBuffer` seals the whole
   * buffer in one call before any of it leaves (docs/decisions/0105-native-crc-batches.md).
   */
  unsealed = false;
  /** The LSN the next append gets. */
  nextLsn: bigint;
  /**
   * LSNs that can still be assigned without passing 2^64-1, as a number (capped at 2^52):
   * appends count it down instead of comparing bigints (see `refreshLsnHeadroom`).
   */
  lsnHeadroom = 0;
  writtenLsn: bigint;
  /**
   * The prefix of completed writes, into named segments or not: their bytes left memory. At
   * least writtenLsn, ahead of it while a new segment waits for its name.
   */
  completedLsn: bigint;
  /** How many writes at the head of `writes` are known to be done (the completed prefix). */
  private completedCount = 0;
  /** Highest LSN of a write handed to the StorageIo (see SegmentedWal.submittedLsn). */
  submittedLsn: bigint;
  /** Writes not yet part of the completed prefix, in submission order. */
  writes: SegmentWrite[] = [];

  private readonly io: StorageIo;
  private readonly host: WritePipelineHost;
  private readonly counters: Counters;
  private readonly zeroFill: ZeroFiller | null;
  private readonly writeback: WritebackAhead | null;
  private readonly bufferSize: number;
  private readonly pool: BufferPool;
  /** With direct I/O: the bytes of the file's block before the next frame (see direct-io.ts). */
  private readonly tail: BlockTail | null;
  private bufBase: Buffer;
  private bufLen = 0;
  private bufPooled = true;
  /** File offset of buf[0] in the active segment. */
  private bufOffset: number;
  /** The first LSN the next write holds, and where its frame starts in the file. */
  private bufFirstLsn: bigint;
  private bufDataStart: number;
  private scratch: Buffer = Buffer.alloc(0);

  constructor(options: {
    io: StorageIo;
    host: WritePipelineHost;
    counters: Counters;
    zeroFill: ZeroFiller | null;
    writeback: WritebackAhead | null;
    writeBufferSize: number;
    direct: boolean;
    /** A reader never writes: it gets no buffer. */
    readOnly: boolean;
    nextLsn: bigint;
    /** Where the next frame goes in the active segment's file. */
    offset: number;
  }) {
    this.io = options.io;
    this.host = options.host;
    this.counters = options.counters;
    this.zeroFill = options.zeroFill;
    this.writeback = options.writeback;
    this.bufferSize = options.writeBufferSize;
    this.tail = options.direct ? new BlockTail() : null;
    this.pool = options.direct
      ? new BufferPool(directBufferSize(options.writeBufferSize), alignedBuffer)
      : new BufferPool(options.writeBufferSize);
    this.nextLsn = options.nextLsn;
    this.writtenLsn = options.nextLsn - 1n;
    this.completedLsn = this.writtenLsn;
    this.submittedLsn = options.nextLsn - 1n;
    this.bufBase = options.readOnly ? Buffer.alloc(0) : this.pool.take();
    this.buf = this.bufBase;
    this.bufOffset = options.offset;
    this.bufFirstLsn = options.nextLsn;
    this.bufDataStart = options.offset;
  }

  get direct(): boolean {
    return this.tail !== null;
  }

  /** The unit a short write's rest restarts on (the short-write rule, `writeProgress`). */
  private get sector(): number {
    return this.tail === null ? 1 : DIRECT_IO_SECTOR;
  }

  /** Bytes in the write buffer, not yet submitted. */
  get bufferedBytes(): number {
    return this.bufLen;
  }

  /** Write buffers allocated because the pool had none free. */
  get bufferAllocations(): number {
    return this.pool.allocated;
  }

  /** Writes submitted (or queued to be) and not completed yet. */
  get writesInFlight(): number {
    return this.writes.filter((w) => w.status === 'inflight' || w.status === 'queued').length;
  }

  /** Recomputes lsnHeadroom from nextLsn; false when fewer than `count` LSNs are left. */
  refreshLsnHeadroom(count: number): boolean {
    const left = MAX_LSN + 1n - this.nextLsn;
    this.lsnHeadroom = left > 2n ** 52n ? 2 ** 52 : Number(left);
    return this.lsnHeadroom >= count;
  }

  /** A buffer of at least `size` bytes to encode a frame into before it is encrypted. */
  scratchOf(size: number): Buffer {
    if (this.scratch.length < size) this.scratch = Buffer.allocUnsafeSlow(Math.max(size, 4096));
    return this.scratch;
  }

  /** Index in `buf` where a frame of `size` bytes goes, submitting the buffer first if full. */
  room(size: number): number {
    if (this.bufLen + size <= this.buf.length) return this.bufLen;
    this.submitBuffer({ full: true });
    if (size > this.buf.length) {
      if (this.bufPooled) this.pool.give(this.bufBase);
      this.bufPooled = false;
      if (this.tail === null) {
        this.bufBase = Buffer.allocUnsafeSlow(size);
        this.buf = this.bufBase;
      } else {
        this.bufBase = newDirectBuffer(size);
        this.buf = this.tail.frameView(this.bufBase, this.bufOffset, size);
      }
    }
    return 0;
  }

  /** Takes in the frame of `size` bytes just encoded at `room()`'s index, holding LSNs `first`..`last`. */
  commit(seg: Segment, size: number, first: bigint, last: bigint, count: number): void {
    this.tail?.noteFrame(this.bufOffset + this.bufLen, size, first, last);
    this.bufLen += size;
    const frames = seg.frames;
    // Most frames are not kept (one per FRAME_INDEX_SPACING bytes): asked before the call.
    if (frames?.wants(seg.assignedEnd)) frames.offer(seg.assignedEnd, first);
    seg.assignedEnd += size;
    seg.lastLsn = last;
    this.nextLsn = last + 1n;
    // Counting down a number costs nothing; a rollback that moves nextLsn back only leaves
    // it low, and the next append recomputes it.
    this.lsnHeadroom -= count;
    this.counters.bytesAppended += size;
  }

  /**
   * Empties the write buffer; the next frame goes to file offset `offset`. `before` is what
   * the file holds from the block boundary below `offset` up to it (direct I/O rewrites it).
   */
  resetTo(offset: number, firstLsn: bigint, before: Uint8Array): void {
    this.bufLen = 0;
    this.bufOffset = offset;
    this.bufFirstLsn = firstLsn;
    this.bufDataStart = offset;
    if (this.tail !== null) {
      this.tail.reset(before.subarray(0, offset % BLOCK));
      this.buf = this.tail.frameView(this.bufBase, offset, this.bufferSize);
    }
  }

  /** With direct I/O, what `seg` holds before its next frame in that frame's block. */
  async bytesBefore(seg: Segment): Promise<Uint8Array> {
    return this.tail === null ? Buffer.alloc(0) : blockBeforeEnd(this.io, seg);
  }

  /**
   * Seals the frames just encoded at `at` (`size` bytes) while they are still in the cache:
   * a run of many frames sealed at submission would be read back from memory
   * (docs/decisions/0609). If the buffer also holds frames left unsealed, `submitBuffer`
   * seals it whole, these frames again: the same CRCs, computed twice.
   */
  sealNow(at: number, size: number): void {
    sealFrames(this.buf, at, at + size);
  }

  private seal(): void {
    if (this.unsealed) {
      sealFrames(this.buf, 0, this.bufLen);
      this.unsealed = false;
    }
  }

  /**
   * Hands the filled part of the write buffer to the StorageIo (or queues it behind segment
   * creation). With `holdFlush` the write stays queued and unwatched: the caller links an
   * fdatasync behind it, flushes, then watches it (claiming a completion flushes the queue,
   * which would send the write alone and hold the fdatasync back until the write is done).
   *
   * `full`: the buffer is full and more frames follow at once. With direct I/O such a write
   * stops at the last block boundary and the frame across it is carried over to the next
   * write, so that two bulk writes never share a block and need not wait for each other.
   *
   * `dsync`: make the write durable on its own (the returned write's `dsync`) where it can:
   * the StorageIo honours dsync writes and every byte before the write is durable already.
   */
  submitBuffer(
    options: { holdFlush?: boolean; full?: boolean; dsync?: boolean } = {},
  ): { write: SegmentWrite; token: number } | null {
    if (this.bufLen === 0 && this.bufDataStart === this.bufOffset) return null;
    const seg = this.host.active();
    if (this.tail === null) this.bufLen += markIfDue(seg, this.buf, this.bufLen, this.buf.length);
    this.seal();
    const encodedEnd = this.bufOffset + this.bufLen;
    // The last boundary a frame of this buffer reached is alignDown(encodedEnd) whenever it
    // lies past the buffer's first block, so the tail's blockLsn and blockFrameStart describe it.
    const carry =
      options.full === true &&
      this.tail !== null &&
      alignDown(encodedEnd) > alignDown(this.bufOffset);
    const dataEnd = carry ? this.tail!.blockFrameStart : encodedEnd;
    const lastLsn = carry ? this.tail!.blockLsn : this.nextLsn - 1n;
    const out =
      this.tail === null
        ? { buf: this.buf, fileOffset: this.bufOffset, length: this.bufLen }
        : this.tail.complete(this.bufBase, this.bufOffset, this.bufLen, !carry);
    const write = newSegmentWrite({
      seg,
      buf: out.buf,
      length: out.length,
      fileOffset: out.fileOffset,
      dataStart: this.bufDataStart,
      dataEnd,
      firstLsn: this.bufFirstLsn,
      lastLsn,
      pooledBuffer: this.bufPooled ? this.bufBase : null,
      dsync:
        options.dsync === true && this.io.dsyncWrites === true && out.fileOffset <= seg.syncedEnd,
    });
    this.writes.push(write);
    this.bufOffset = encodedEnd;
    this.bufLen = 0;
    this.bufFirstLsn = lastLsn + 1n;
    this.bufDataStart = dataEnd;
    this.bufBase = this.pool.take();
    this.buf =
      this.tail === null
        ? this.bufBase
        : this.tail.frameView(this.bufBase, encodedEnd, this.bufferSize);
    this.bufPooled = true;
    // The writes not yet in the completed prefix hold their buffers, plus the one filling.
    this.pool.noteOut(this.writes.length - this.completedCount + 1);
    if (seg.status === 'pending') {
      this.host.startCreation(seg);
      return null;
    }
    if (this.zeroFill?.mustHold(seg, write.fileOffset + write.length)) return null;
    if (this.overlapsUnfinished(write)) return null;
    const token = this.submitWrite(write);
    // A held flush means a linked fdatasync comes next: a fill must not get in between.
    if (options.holdFlush === true) return { write, token };
    this.io.flush();
    this.watch(write, token);
    this.zeroFill?.maybeStart(seg);
    return { write, token };
  }

  /**
   * Whether `w` must wait for the write before it: with direct I/O, a write rewrites the
   * partial last block of the one before, and two writes of one block in flight at once
   * may reach the disk in either order.
   */
  private overlapsUnfinished(w: SegmentWrite): boolean {
    const i = this.writes.indexOf(w);
    const before = i > 0 ? this.writes[i - 1]! : undefined;
    if (before === undefined || before.seg !== w.seg) return false;
    if (before.status !== 'queued' && before.status !== 'inflight') return false;
    return before.fileOffset + before.length > w.fileOffset;
  }

  /**
   * Submits, in order, the writes queued for `seg` (behind its creation, a zero fill or,
   * with direct I/O, the write of the block they share), up to the first that must still wait.
   */
  submitQueued(seg: Segment): void {
    const submitted: { w: SegmentWrite; token: number }[] = [];
    for (const w of this.writes) {
      if (w.seg !== seg || w.status !== 'queued') continue;
      if (this.zeroFill?.blocks(seg, w.fileOffset + w.length) || this.overlapsUnfinished(w)) {
        break;
      }
      submitted.push({ w, token: this.submitWrite(w) });
    }
    if (submitted.length === 0) return;
    this.io.flush();
    for (const { w, token } of submitted) this.watch(w, token);
  }

  /** After a fill: the writes it held go out (even while closing), then the next fill may start. */
  afterZeroFill(filled: Segment): void {
    if (this.host.poisoned() || this.host.rollingBack()) return;
    const active = this.host.active();
    for (const seg of filled === active ? [active] : [filled, active]) {
      if (seg.status !== 'pending' && seg.fd !== null) this.submitQueued(seg);
    }
    if (!this.host.closed()) this.zeroFill?.maybeStart(active);
  }

  /** Submits (the rest of) a write; -1 when the StorageIo refused it, which poisons the log. */
  private submitWrite(w: SegmentWrite): number {
    w.status = 'inflight';
    this.counters.writes++;
    if (w.lastLsn > this.submittedLsn) this.submittedLsn = w.lastLsn;
    try {
      return sendRest(this.io, w.seg.fd!, w, w.dsync ? DSYNC : undefined);
    } catch (err) {
      w.status = 'failed';
      w.settle();
      this.host.poison(err);
      return -1;
    }
  }

  /** Takes the completion of a submitted write (`token` from `submitBuffer`). */
  watch(w: SegmentWrite, token: number): void {
    if (token < 0) return;
    try {
      this.io.onCompletion(token, (c) => this.onWriteCompletion(w, c));
    } catch (err) {
      this.onWriteCompletion(w, null, err);
    }
  }

  private onWriteCompletion(w: SegmentWrite, c: IoCompletion | null, thrown?: unknown): void {
    if (w.discard) {
      w.status = 'discarded';
      w.settle();
      return;
    }
    const result = c === null ? -EIO : c.result;
    const left = judgeWrite(w, result, this.sector);
    if (left < 0) {
      w.status = 'failed';
      w.settle();
      const err =
        c === null && isWalError(thrown) ? thrown : writeError(w, result, w.seg.path, thrown);
      // A stall (result >= 0) is never a full device, whatever byte count it had.
      if (result < 0 && (isNoSpace(result) || isWalError(err, WalErrorCode.NO_SPACE))) {
        this.host.noSpace(w.seg, w.dataStart, w.firstLsn, err);
      } else {
        this.host.poison(err);
      }
      return;
    }
    this.counters.bytesWritten += result;
    if (left > 0) {
      // A short write is not a hole: the rest goes out again from where it stopped (with
      // direct I/O, from the start of the sector it stopped in, which is rewritten).
      this.counters.shortWrites++;
      if (this.host.poisoned() || this.host.closed()) {
        w.status = 'failed';
        w.settle();
        return;
      }
      const token = this.submitWrite(w);
      this.io.flush();
      this.watch(w, token);
      return;
    }
    w.status = 'done';
    if (w.pooledBuffer !== null) this.pool.give(w.pooledBuffer);
    w.settle();
    this.advanceWritten();
    if (this.tail !== null && !this.host.poisoned() && !this.host.rollingBack()) {
      this.releaseHeldBehind(w);
    }
  }

  /** With direct I/O: a write held behind `done` (they share a block) may go out now. */
  private releaseHeldBehind(done: SegmentWrite): void {
    const seg = done.seg;
    if (seg.status === 'pending' || seg.fd === null) return;
    if (this.writes.some((w) => w.seg === seg && w.status === 'queued')) this.submitQueued(seg);
  }

  /**
   * Moves writtenLsn over the prefix of completed writes whose segment has its name. A write
   * into a file still under its tmp name has reached the operating system, but the file would
   * not outlive a crash of the process (recovery removes tmp files), so it is not written
   * yet: the segment set calls again once it renamed the file.
   */
  advanceWritten(): void {
    const writes = this.writes;
    let n = 0;
    while (n < writes.length && writes[n]!.status === 'done' && isNamed(writes[n]!.seg)) {
      const w = writes[n]!;
      w.seg.completedEnd = w.dataEnd;
      this.writeback?.afterWrite(w.seg);
      if (w.lastLsn >= w.firstLsn) {
        w.seg.writtenLsn = w.lastLsn;
        this.writtenLsn = w.lastLsn;
      }
      n++;
    }
    const completedBefore = this.completedLsn;
    if (this.writtenLsn > this.completedLsn) this.completedLsn = this.writtenLsn;
    let done = Math.max(n, this.completedCount);
    for (; done < writes.length && writes[done]!.status === 'done'; done++) {
      const w = writes[done]!;
      if (w.lastLsn >= w.firstLsn) this.completedLsn = w.lastLsn;
    }
    if (n > 0) writes.splice(0, n);
    this.completedCount = done - n;
    if (n > 0) this.host.written(this.writtenLsn);
    if (this.completedLsn > completedBefore) this.host.completed(this.completedLsn);
  }

  /** The log is poisoned: writes still queued will never go out. */
  failQueued(): void {
    for (const w of this.writes) {
      if (w.status === 'queued') {
        w.status = 'failed';
        w.settle();
      }
    }
  }

  /** A rollback starts: the buffer and the writes queued (all after the failure) are dropped. */
  discardUnsent(): void {
    this.bufLen = 0;
    for (const w of this.writes) {
      if (w.status === 'queued') {
        w.discard = true;
        w.status = 'discarded';
        w.settle();
      }
    }
  }

  /**
   * A rollback's cut: the file is cut back to `offset` in `seg` (`dropAfter` drops the
   * segments after it) and the pipeline goes on from there, as if the records from
   * `lostFrom` on had never been appended. Throws when the file cannot be cut.
   */
  async cutBack(
    { seg, offset, lostFrom: from }: RollbackPoint,
    dropAfter: (seg: Segment) => void,
  ): Promise<void> {
    this.writes = this.writes.filter((w) => w.firstLsn < from && w.status === 'done');
    this.completedCount = 0;
    if (this.completedLsn > from - 1n) this.completedLsn = from - 1n;
    this.advanceWritten();
    dropAfter(seg);
    if (seg.fd !== null) {
      await this.io.truncate(seg.fd, offset);
      // Durable before the LSNs from `from` on are handed out again: a power loss must not
      // bring back a frame whose append was refused, under an LSN a later record took.
      await this.io.datasync(seg.fd);
    }
    this.forgetFrom(seg, offset, from);
    const before = await this.bytesBefore(seg);
    seg.completedEnd = Math.min(seg.completedEnd, offset);
    seg.zeroedEnd = offset;
    seg.writebackEnd = Math.min(seg.writebackEnd, offset);
    seg.syncedEnd = Math.min(seg.syncedEnd, offset);
    seg.markedEnd = Math.min(seg.markedEnd, offset);
    if (seg.writtenLsn > from - 1n) seg.writtenLsn = from - 1n;
    if (this.writtenLsn > from - 1n) this.writtenLsn = from - 1n;
    this.resetTo(offset, from, before);
  }

  /**
   * The log now ends at `cutAt` in `seg`, with the records from LSN `from` on forgotten as if
   * never appended: the next append gets `from`. Shared by a rollback (whose cut is in the
   * file) and by `dropBufferedAbove` (whose cut is in the write buffer).
   */
  forgetFrom(seg: Segment, cutAt: number, from: bigint): void {
    seg.frames?.cutFrom(from);
    seg.assignedEnd = cutAt;
    seg.lastLsn = from - 1n;
    this.nextLsn = from;
    if (this.submittedLsn > from - 1n) this.submittedLsn = from - 1n;
  }

  /**
   * Cuts the write buffer before its first frame above `keep` (a batch stays or goes whole):
   * the frames carry their LSNs. For SegmentedWal.dropUnsubmittedAbove.
   */
  dropBufferedAbove(keep: bigint): void {
    if (this.bufLen === 0) return;
    this.seal();
    const seg = this.host.active();
    const scanner = new FrameScanner(this.buf, {
      end: this.bufLen,
      ...(seg.writeCipher === undefined ? {} : { cipher: seg.writeCipher }),
    });
    for (;;) {
      const frameStart = scanner.offset;
      if (!scanner.advance()) break;
      const first = scanner.offset !== frameStart;
      const at = scanner.lsn;
      if (first && at > keep) {
        this.bufLen = frameStart;
        this.forgetFrom(seg, this.bufOffset + frameStart, at);
        break;
      }
    }
  }
}
