import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import {
  badArgument,
  batchFrameSize,
  encodeBatchFrame,
  encodeBatchFrameUnsealed,
  encodePayloadFrameUnsealed,
  encodeRecordFrame,
  encodeRecordFrameUnsealed,
  FILE_HEADER_SIZE,
  FRAME_HEADER_SIZE,
  FrameScanner,
  isWalError,
  type KeyRing,
  MAX_LSN,
  RECORD_BODY_FIXED,
  recordFrameSize,
  sealFrames,
  validateRecordInput,
  WalError,
  WalErrorCode,
  type WalRecord,
  type WalRecordInput,
} from '@walnut/codec';
import {
  alignedBuffer,
  createStorageIo,
  DIRECT_IO_SECTOR,
  type IoCompletion,
  type IoLock,
  ioErrorFromErrno,
  type StorageIo,
} from '@walnut/storage-io';
import { DEFAULT_READ_CHUNK } from './chunk-reader.js';
import {
  isKeyRing,
  type ResolvedConfig,
  resolveConfig,
  type SegmentedWalConfig,
} from './config.js';
import {
  alignDown,
  BLOCK,
  BlockTail,
  type DirectIoStats,
  directBufferSize,
  newDirectBuffer,
  paddedToBlocks,
  probeDirectIo,
} from './direct-io.js';
import { writeFloor } from './floor.js';
import { type FollowState, followLog, makeDurable } from './follow.js';
import { checkFrameBody, encodeReserved } from './frame-guard.js';
import { BufferPool, newPendingWrite, type PendingWrite } from './pending-write.js';
import { type RecoveryReport, recoverLog } from './recovery.js';
import { ReplayIterator, type ReplayPosition, type ReplaySource } from './replay.js';
import { existingSegment, hasRecords, isNamed, plannedSegment, type Segment } from './segment.js';
import { WritebackAhead, type WritebackStats } from './writeback.js';
import { ZeroFiller, type ZeroFillStats } from './zero-fill.js';

const ENOSPC = 28;
const EDQUOT = 122;
const ECANCELED = 125;
const EOPNOTSUPP = 95;
const LOCK_FILE = 'LOCK';
/** Files opened ahead for the next segment: `spare-<hex>.tmp` (recovery removes leftovers). */
export const SPARE_FILE_PREFIX = 'spare-';

export interface SegmentInfo {
  path: string;
  firstLsn: bigint;
  /** LSN of the last record written to it, null when it holds none. */
  lastLsn: bigint | null;
  /** Size of the file on disk (a preallocated segment is larger than its data). */
  sizeBytes: number;
  sealed: boolean;
  encrypted: boolean;
  keyId: number;
}

export interface TruncateResult {
  segmentsDeleted: number;
  bytesReclaimed: number;
}

export interface SegmentedWalStats {
  appends: number;
  batches: number;
  records: number;
  bytesAppended: number;
  bytesWritten: number;
  writes: number;
  shortWrites: number;
  syncs: number;
  segmentsCreated: number;
  rollbacks: number;
  /** Writes submitted and not completed yet. */
  writesInFlight: number;
  /** Bytes in the write buffer, not yet submitted. */
  bufferedBytes: number;
  /** Write buffers allocated because the pool had none free (the rest were reused). */
  bufferAllocations: number;
  /** Whether preallocation works on this backend (null until a segment was created with it). */
  preallocation: boolean | null;
  /** Zeros written ahead of the writer (config.zeroFillAhead). */
  zeroFill: ZeroFillStats;
  /** Writeback started ahead of fdatasync (config.writebackAhead). */
  writeback: WritebackStats;
  /** Whether segments are written with O_DIRECT (config.directIo), and why (not). */
  directIo: DirectIoStats;
}

interface SyncWaiter {
  target: bigint;
  resolve(lsn: bigint): void;
  reject(err: unknown): void;
}

function isNoSpace(errno: number): boolean {
  return errno === ENOSPC || errno === EDQUOT;
}

function closedError(): WalError {
  return new WalError(WalErrorCode.CLOSED, 'the log is closed; open it again to use it');
}

function readOnlyError(what: string): WalError {
  return new WalError(
    WalErrorCode.READ_ONLY,
    `${what} is not allowed: the log was opened read-only; open it without readOnly to write`,
  );
}

function checkLsnArgument(name: string, value: unknown): asserts value is bigint {
  if (typeof value !== 'bigint' || value < 0n || value > MAX_LSN) {
    badArgument(name, 'a bigint LSN from 0n to 2^64-1', value);
  }
}

/**
 * A write-ahead log kept as a directory of segment files, written through a StorageIo.
 *
 * Appends are synchronous: a record is validated, given its LSN and encoded into the
 * write buffer; full buffers go to the StorageIo at once and many writes can be in
 * flight. `sync()` makes everything appended before it durable, sharing one fdatasync
 * among concurrent callers while the next group fills. See README.md for the rules.
 */
export class SegmentedWal {
  readonly #cfg: ResolvedConfig;
  readonly #io: StorageIo;
  readonly #ownsIo: boolean;
  readonly #lock: IoLock | null;
  readonly #report: RecoveryReport;
  readonly #pool: BufferPool;
  readonly #zeroFill: ZeroFiller | null;
  readonly #writeback: WritebackAhead | null;
  readonly #maxFrameBody: number;
  readonly #directIo: DirectIoStats;
  /** With direct I/O: the bytes of the file's block before the next frame (see direct-io.ts). */
  readonly #tail: BlockTail | null;
  #ring: KeyRing | undefined;

  /** Segments oldest first; the last one is the active segment. */
  #segments: Segment[];
  #floorLsn: bigint;
  #nextLsn: bigint;
  /**
   * LSNs that can still be assigned without passing 2^64-1, as a number (capped at 2^52):
   * appends count it down instead of comparing bigints (see #refreshLsnHeadroom).
   */
  #lsnHeadroom = 0;
  #writtenLsn: bigint;
  #durableLsn: bigint;
  /** Highest LSN of a write handed to the StorageIo (see `submittedLsn`). */
  #submittedLsn: bigint;

  /** Where frames are encoded: `#bufBase` itself, or with direct I/O a view into it. */
  #buf: Buffer;
  #bufBase: Buffer;
  #bufLen = 0;
  /**
   * #buf holds plain frames encoded without their CRC: #submitBuffer seals the whole
   * buffer in one call before any of it leaves (docs/decisions/0105-native-crc-batches.md).
   */
  #bufUnsealed = false;
  #bufPooled = true;
  /** File offset of #buf[0] in the active segment. */
  #bufOffset: number;
  /** The first LSN the next write holds, and where its frame starts in the file. */
  #bufFirstLsn: bigint;
  #bufDataStart: number;
  /**
   * With direct I/O, for the last block boundary a frame reached: the last LSN wholly below
   * it and where the frame across it starts (at the boundary when none crosses it). A full
   * buffer is written up to that boundary and the rest carried over (#submitBuffer).
   */
  #blockLsn = 0n;
  #blockFrameStart = 0;
  #scratch: Buffer = Buffer.alloc(0);

  /** Writes not yet part of the completed prefix, in submission order. */
  #writes: PendingWrite[] = [];
  #creationChain: Promise<void> = Promise.resolve();
  /**
   * A file opened ahead of time for the next segment (buffered writes only), so that a
   * rollover can write into it at once: opening one needs the event loop, which an append
   * loop that never yields does not give back (decision 0330).
   */
  #spare: { fd: number; path: string } | null = null;
  #spareJob: Promise<void> | null = null;
  #truncateChain: Promise<unknown> = Promise.resolve();

  #waiters: SyncWaiter[] = [];
  #flushWaiters: { target: bigint; resolve(lsn: bigint): void; reject(err: unknown): void }[] = [];
  #roundActive = false;
  #durableListeners = new Set<(lsn: bigint) => void>();
  #writtenListeners = new Set<(lsn: bigint) => void>();
  #rollbackListeners = new Set<(lastLsn: bigint, error: WalError) => void>();
  #fdsToClose: number[] = [];

  #poisoned: WalError | null = null;
  #rollback: Promise<void> | null = null;
  #rollbackError: WalError | null = null;
  #rollbackPoint: { seg: Segment; offset: number; lostFrom: bigint } | null = null;
  /** Where the next page of replayFromLimit starts (see there). */
  #pageHint: (ReplayPosition & { lsn: bigint }) | null = null;
  #unreportedLoss: WalError | null = null;
  /** Read-only: the refresh under way, and the last frame it found (see follow.ts). */
  #refreshing: Promise<bigint> | null = null;
  #lastFrame: FollowState['lastFrame'] = null;
  #closed = false;
  #closing: Promise<void> | null = null;

  /** Counters; `stats()` adds the direct I/O verdict, fixed at open. */
  readonly #stats: Omit<SegmentedWalStats, 'directIo'> = {
    appends: 0,
    batches: 0,
    records: 0,
    bytesAppended: 0,
    bytesWritten: 0,
    writes: 0,
    shortWrites: 0,
    syncs: 0,
    segmentsCreated: 0,
    rollbacks: 0,
    writesInFlight: 0,
    bufferedBytes: 0,
    bufferAllocations: 0,
    preallocation: null,
    zeroFill: { state: 'off', fills: 0, bytes: 0, heldWrites: 0 },
    writeback: { state: 'off', ranges: 0, bytes: 0 },
  };

  private constructor(init: {
    cfg: ResolvedConfig;
    io: StorageIo;
    ownsIo: boolean;
    lock: IoLock | null;
    report: RecoveryReport;
    segments: Segment[];
    floorLsn: bigint;
    nextLsn: bigint;
    directIo: DirectIoStats;
  }) {
    this.#cfg = init.cfg;
    this.#directIo = init.directIo;
    const direct = init.directIo.state === 'on';
    this.#tail = direct ? new BlockTail() : null;
    this.#io = init.io;
    this.#ownsIo = init.ownsIo;
    this.#lock = init.lock;
    this.#report = init.report;
    this.#ring = init.cfg.encryption;
    this.#pool = direct
      ? new BufferPool(directBufferSize(init.cfg.writeBufferSize), alignedBuffer)
      : new BufferPool(init.cfg.writeBufferSize);
    this.#zeroFill =
      init.cfg.zeroFillAhead > 0 && !init.cfg.readOnly
        ? new ZeroFiller({
            io: init.io,
            ahead: init.cfg.zeroFillAhead,
            segmentTargetSize: init.cfg.segmentTargetSize,
            onIdle: (seg) => this.#onZeroFillIdle(seg),
            onFatal: (err) => this.#poison(err),
            ...(direct ? { allocate: alignedBuffer } : {}),
          })
        : null;
    // Direct writes leave no dirty pages behind for a writeback to start on.
    this.#writeback =
      init.cfg.writebackAhead > 0 && !init.cfg.readOnly && !direct
        ? new WritebackAhead({
            io: init.io,
            every: init.cfg.writebackAhead,
            onIdle: () => this.#closeIdleFds(),
          })
        : null;
    this.#maxFrameBody = Math.min(2 ** 30, init.cfg.maxRecordSize + 1024);
    this.#segments = init.segments;
    this.#floorLsn = init.floorLsn;
    this.#nextLsn = init.nextLsn;
    this.#writtenLsn = init.nextLsn - 1n;
    // A writer made what it recovered durable. A reader only knows that every segment but
    // the last is (the writer syncs one before naming the next); refresh() syncs the rest.
    this.#durableLsn =
      init.cfg.readOnly && init.segments.length > 0
        ? (init.segments.at(-2)?.lastLsn ?? init.segments[0]!.firstLsn - 1n)
        : init.nextLsn - 1n;
    this.#submittedLsn = init.nextLsn - 1n;
    this.#bufBase = init.cfg.readOnly ? Buffer.alloc(0) : this.#pool.take();
    this.#buf = this.#bufBase;
    const active = this.#segments[this.#segments.length - 1];
    this.#bufOffset = active?.assignedEnd ?? FILE_HEADER_SIZE;
    this.#bufFirstLsn = init.nextLsn;
    this.#bufDataStart = this.#bufOffset;
  }

  /**
   * Opens (or, unless read-only, creates) the log in `config.dir` and recovers it: see
   * README.md "Recovery on open". A writer holds `<dir>/LOCK` until `close()`.
   */
  static async open(config: SegmentedWalConfig): Promise<SegmentedWal> {
    const cfg = resolveConfig(config);
    const ownsIo = cfg.io === undefined;
    const io = cfg.io ?? createStorageIo({ backend: 'auto' });
    let lock: IoLock | null = null;
    try {
      if (cfg.readOnly) {
        if ((await io.stat(cfg.dir)) === null) {
          throw new WalError(
            WalErrorCode.IO,
            `the log directory ${cfg.dir} does not exist; a read-only opener never creates it`,
            { details: { errno: 2, syscall: 'stat', path: cfg.dir } },
          );
        }
      } else if ((await io.stat(cfg.dir)) === null) {
        await io.mkdir(cfg.dir);
        await io.syncDirectory(dirname(cfg.dir));
      }
      if (!cfg.readOnly) lock = await io.lock(join(cfg.dir, LOCK_FILE));
      const directIo: DirectIoStats =
        cfg.directIo && !cfg.readOnly
          ? await probeDirectIo(io, join(cfg.dir, LOCK_FILE))
          : {
              state: 'off',
              reason: cfg.readOnly ? 'read-only' : 'not asked for (config.directIo)',
            };
      const recovered = await recoverLog({
        io,
        dir: cfg.dir,
        mode: cfg.recovery,
        readOnly: cfg.readOnly,
        ring: cfg.encryption,
        maxFrameBody: Math.min(2 ** 30, cfg.maxRecordSize + 1024),
      });
      const segments = recovered.segments.map((s) =>
        existingSegment(s.path, s.header, s.lastLsn, s.dataEnd),
      );
      const wal = new SegmentedWal({
        cfg,
        io,
        ownsIo,
        lock,
        report: recovered.report,
        segments,
        floorLsn: recovered.floorLsn,
        nextLsn: recovered.nextLsn,
        directIo,
      });
      if (!cfg.readOnly) {
        await wal.#prepareActiveSegment();
        wal.#prepareSpare();
        await wal.#spareJob;
      }
      return wal;
    } catch (err) {
      if (lock !== null) await lock.release().catch(() => {});
      if (ownsIo) await io.closeIo().catch(() => {});
      throw err;
    }
  }

  /**
   * After recovery: continue the last segment when that is allowed, else plan a new one.
   * Appending into an encrypted segment this process did not create could repeat nonces
   * under its key, and a log with a key ring must not grow plaintext segments.
   */
  async #prepareActiveSegment(): Promise<void> {
    const last = this.#segments[this.#segments.length - 1];
    if (last === undefined) {
      const first = plannedSegment(this.#cfg.dir, this.#nextLsn, this.#ring);
      this.#segments.push(first);
      this.#resetBufferTo(FILE_HEADER_SIZE, this.#nextLsn, first.headerBytes);
      this.#startCreation(first);
      await first.creating;
      return;
    }
    const fd = await this.#io.open(last.path, { direct: this.#tail !== null });
    // Recovery may have read bytes that sit only in the page cache (a killed process
    // never synced them); make them durable before anything is built on top of them.
    await this.#io.datasync(fd).catch(async (err) => {
      await this.#io.close(fd);
      throw err;
    });
    // After salvage retired the LSNs of an unreadable last segment, the next record starts a
    // segment of its own: a gap lies between segments, never inside one.
    const continuable =
      last.header.cipher === 'none' &&
      this.#ring === undefined &&
      last.lastLsn + 1n === this.#nextLsn;
    if (continuable) {
      last.fd = fd;
      last.status = 'ready';
      this.#resetBufferTo(last.assignedEnd, this.#nextLsn, await this.#bytesBefore(last));
      this.#zeroFill?.maybeStart(last);
      return;
    }
    await this.#io.close(fd);
    this.#planNewActive();
  }

  /** Plans the next active segment at nextLsn, replacing the current one if it is empty. */
  #planNewActive(): void {
    const seg = plannedSegment(this.#cfg.dir, this.#nextLsn, this.#ring);
    const last = this.#segments[this.#segments.length - 1];
    if (last !== undefined && !hasRecords(last) && last.firstLsn === seg.firstLsn) {
      seg.replaces = true;
      // A creation job still running cleans up its own file (it sees it was replaced).
      if (last.fd !== null && last.creating === null) {
        this.#fdsToClose.push(last.fd);
        last.fd = null;
      }
      this.#segments[this.#segments.length - 1] = seg;
    } else {
      this.#segments.push(seg);
    }
    this.#resetBufferTo(FILE_HEADER_SIZE, this.#nextLsn, seg.headerBytes);
  }

  /**
   * Empties the write buffer; the next frame goes to file offset `offset`. `before` is what
   * the file holds from the block boundary below `offset` up to it (direct I/O rewrites it).
   */
  #resetBufferTo(offset: number, firstLsn: bigint, before: Uint8Array): void {
    this.#bufLen = 0;
    this.#bufOffset = offset;
    this.#bufFirstLsn = firstLsn;
    this.#bufDataStart = offset;
    if (this.#tail !== null) {
      this.#tail.reset(before.subarray(0, offset % BLOCK));
      this.#buf = this.#tail.frameView(this.#bufBase, offset, this.#cfg.writeBufferSize);
    }
  }

  /**
   * With direct I/O, the bytes of `seg`'s file from the block boundary below its assigned
   * end up to it, read back from the file (a planned segment's are its header's).
   */
  async #bytesBefore(seg: Segment): Promise<Uint8Array> {
    const offset = seg.assignedEnd;
    if (this.#tail === null || offset % BLOCK === 0) return Buffer.alloc(0);
    if (seg.fd === null) return seg.headerBytes;
    const block = alignedBuffer(BLOCK);
    const got = await this.#io.read(seg.fd, block, alignDown(offset));
    if (got < offset % BLOCK) {
      throw new WalError(
        WalErrorCode.IO,
        `segment ${seg.path} is shorter than its ${offset} bytes of data; close and reopen the log`,
      );
    }
    return block;
  }

  // ---------------------------------------------------------------- properties

  /** The LSN the next append will get. */
  get nextLsn(): bigint {
    return this.#nextLsn;
  }

  /** Every record up to this LSN was written to the OS (not necessarily durable). */
  get writtenLsn(): bigint {
    return this.#writtenLsn;
  }

  /** Every record up to this LSN is durable (a completed fdatasync covered it). */
  get durableLsn(): bigint {
    return this.#durableLsn;
  }

  /**
   * Records up to this LSN may be in the files: a write holding them was handed to the
   * StorageIo (completed or not; a failed one may have left some of its bytes). No record
   * after it is: those are still in the write buffer or queued in this process.
   */
  get submittedLsn(): bigint {
    return this.#submittedLsn;
  }

  get activeSegmentFirstLsn(): bigint {
    return this.#segments[this.#segments.length - 1]?.firstLsn ?? this.#nextLsn;
  }

  get walDir(): string {
    return this.#cfg.dir;
  }

  /** Records below this LSN were truncated on purpose; replay from below it is an error. */
  get floorLsn(): bigint {
    return this.#floorLsn;
  }

  /** What open() found, cut and dropped. */
  get recoveryReport(): RecoveryReport {
    return this.#report;
  }

  get encryptionRing(): KeyRing | undefined {
    return this.#ring;
  }

  get io(): StorageIo {
    return this.#io;
  }

  stats(): SegmentedWalStats {
    return {
      ...this.#stats,
      writesInFlight: this.#writes.filter((w) => w.status === 'inflight' || w.status === 'queued')
        .length,
      bufferedBytes: this.#bufLen,
      bufferAllocations: this.#pool.allocated,
      zeroFill: this.#zeroFill?.stats() ?? this.#stats.zeroFill,
      writeback: this.#writeback?.stats() ?? this.#stats.writeback,
      directIo: { ...this.#directIo },
    };
  }

  /**
   * Takes in, now, the completions of writes that already finished (see
   * `StorageIo.reapCompletions`): `writtenLsn` advances and their buffers return to the pool
   * without waiting for the event loop. For a caller that appends in a loop without yielding.
   */
  reapCompletions(): void {
    if (!this.#closed) this.#io.reapCompletions();
  }

  /** Calls `listener` whenever durableLsn advances. Returns the function that unsubscribes. */
  onDurable(listener: (durableLsn: bigint) => void): () => void {
    if (typeof listener !== 'function') badArgument('listener', 'a function', listener);
    this.#durableListeners.add(listener);
    return () => {
      this.#durableListeners.delete(listener);
    };
  }

  /** Calls `listener` whenever writtenLsn advances (a write reached the OS). Returns the function that unsubscribes. */
  onWritten(listener: (writtenLsn: bigint) => void): () => void {
    if (typeof listener !== 'function') badArgument('listener', 'a function', listener);
    this.#writtenListeners.add(listener);
    return () => {
      this.#writtenListeners.delete(listener);
    };
  }

  /**
   * Calls `listener` when a write that failed for lack of space was rolled back: the log
   * now ends at `lastLsn` (nextLsn went back to `lastLsn + 1`), and `error` names the
   * records lost, none of them acknowledged. Returns the function that unsubscribes.
   */
  onRollback(listener: (lastLsn: bigint, error: WalError) => void): () => void {
    if (typeof listener !== 'function') badArgument('listener', 'a function', listener);
    this.#rollbackListeners.add(listener);
    return () => {
      this.#rollbackListeners.delete(listener);
    };
  }

  #notify(listeners: Set<(lsn: bigint) => void>, lsn: bigint, what: string): void {
    for (const listener of listeners) {
      try {
        listener(lsn);
      } catch (err) {
        process.emitWarning(`an ${what} listener threw: ${(err as Error)?.message ?? err}`);
      }
    }
  }

  #active(): Segment {
    const seg = this.#segments[this.#segments.length - 1];
    if (seg === undefined) throw new Error('SegmentedWal: no active segment');
    return seg;
  }

  #checkUsable(): void {
    if (this.#closed) throw closedError();
    if (this.#poisoned !== null) throw this.#poisoned;
  }

  #checkWritable(what: string): void {
    this.#checkUsable();
    if (this.#cfg.readOnly) throw readOnlyError(what);
    if (this.#rollback !== null) {
      throw new WalError(
        WalErrorCode.NO_SPACE,
        'the disk is full: the log is rolling back a write that failed for lack of space; free space and retry',
        { cause: this.#rollbackError },
      );
    }
  }

  // -------------------------------------------------------------------- append

  /** Appends one record and returns its LSN. Synchronous: nothing is durable before sync(). */
  append(record: WalRecordInput): bigint {
    this.#checkWritable('append');
    const plainSize = recordFrameSize(record);
    const bytes = record.payload.length + (record.meta === undefined ? 0 : record.meta.length);
    if (bytes > this.#cfg.maxRecordSize) validateRecordInput(record, this.#cfg.maxRecordSize);
    checkFrameBody(plainSize, this.#maxFrameBody, this.#cfg.maxRecordSize, 'record');
    if (this.#lsnHeadroom < 1 && !this.#refreshLsnHeadroom(1)) {
      throw new WalError(WalErrorCode.BAD_STATE, 'the log has used every LSN up to 2^64-1');
    }
    const lsn = this.#nextLsn;
    const seg = this.#segmentFor();
    const cipher = seg.writeCipher;
    if (cipher === undefined) {
      const at = this.#room(plainSize);
      if (this.#poisoned !== null) throw this.#poisoned;
      encodeReserved(encodeRecordFrameUnsealed, this.#buf, at, lsn, record, plainSize, 'record');
      this.#bufUnsealed = true;
      this.#commitFrame(seg, plainSize, lsn, lsn, 1);
    } else {
      const size = cipher.encryptedFrameSize(plainSize - FRAME_HEADER_SIZE);
      checkFrameBody(size, this.#maxFrameBody, this.#cfg.maxRecordSize, 'record');
      const scratch = this.#scratchOf(plainSize);
      encodeReserved(encodeRecordFrame, scratch, 0, lsn, record, plainSize, 'record');
      const at = this.#room(size);
      if (this.#poisoned !== null) throw this.#poisoned;
      cipher.encryptFrame(this.#buf, at, scratch.subarray(FRAME_HEADER_SIZE, plainSize));
      this.#commitFrame(seg, size, lsn, lsn, 1);
    }
    this.#stats.appends++;
    this.#stats.records++;
    return lsn;
  }

  /**
   * Appends a record that is a payload alone (type 0, no meta, no routing fields) and returns
   * its LSN: `append({ payload })` without a record object to allocate and inspect, the hot
   * path of most logs. `payload` must be a Uint8Array or Buffer.
   */
  appendPayload(payload: Uint8Array): bigint {
    this.#checkWritable('append');
    if (!(payload instanceof Uint8Array) || !ArrayBuffer.isView(payload)) {
      badArgument('payload', 'a Uint8Array or Buffer', payload);
    }
    if (payload.length > this.#cfg.maxRecordSize) {
      validateRecordInput({ payload }, this.#cfg.maxRecordSize);
    }
    const size = FRAME_HEADER_SIZE + RECORD_BODY_FIXED + payload.length;
    checkFrameBody(size, this.#maxFrameBody, this.#cfg.maxRecordSize, 'record');
    if (this.#lsnHeadroom < 1 && !this.#refreshLsnHeadroom(1)) {
      throw new WalError(WalErrorCode.BAD_STATE, 'the log has used every LSN up to 2^64-1');
    }
    const lsn = this.#nextLsn;
    const seg = this.#segmentFor();
    // Encrypted segments take the general path (the segment stays: #segmentFor is idempotent).
    if (seg.writeCipher !== undefined) return this.append({ payload });
    const at = this.#room(size);
    if (this.#poisoned !== null) throw this.#poisoned;
    // No caller code runs between reading payload.length and the copy: the frame is `size`.
    encodePayloadFrameUnsealed(this.#buf, at, lsn, payload);
    this.#bufUnsealed = true;
    this.#commitFrame(seg, size, lsn, lsn, 1);
    this.#stats.appends++;
    this.#stats.records++;
    return lsn;
  }

  /**
   * Appends records as one atomic frame (all or none survive a crash); returns the last LSN.
   * With `firstLsn`, the batch must start exactly there (a replica appending a primary's
   * records at their own LSNs): any other next LSN throws WAL_LSN_MISMATCH and appends
   * nothing, so a replica's log can have neither a gap nor an overlap.
   */
  appendBatch(records: readonly WalRecordInput[], firstLsn?: bigint): bigint {
    this.#checkWritable('appendBatch');
    if (firstLsn !== undefined && firstLsn !== this.#nextLsn) this.#lsnMismatch(firstLsn);
    const plainSize = batchFrameSize(records);
    let bytes = 0;
    for (const r of records) bytes += r.payload.length + (r.meta === undefined ? 0 : r.meta.length);
    if (bytes > this.#cfg.maxRecordSize) {
      throw new WalError(
        WalErrorCode.RECORD_TOO_LARGE,
        `the batch holds ${bytes} bytes of payload and meta, over maxRecordSize ${this.#cfg.maxRecordSize}; split it or raise maxRecordSize`,
        { details: { size: bytes, limit: this.#cfg.maxRecordSize } },
      );
    }
    checkFrameBody(plainSize, this.#maxFrameBody, this.#cfg.maxRecordSize, 'batch');
    if (this.#lsnHeadroom < records.length && !this.#refreshLsnHeadroom(records.length)) {
      throw new WalError(WalErrorCode.BAD_STATE, 'the batch would use LSNs beyond 2^64-1');
    }
    const first = this.#nextLsn;
    const last = first + BigInt(records.length - 1);
    const seg = this.#segmentFor();
    const cipher = seg.writeCipher;
    if (cipher === undefined) {
      const at = this.#room(plainSize);
      if (this.#poisoned !== null) throw this.#poisoned;
      encodeReserved(encodeBatchFrameUnsealed, this.#buf, at, first, records, plainSize, 'batch');
      this.#bufUnsealed = true;
      this.#commitFrame(seg, plainSize, first, last, records.length);
    } else {
      const size = cipher.encryptedFrameSize(plainSize - FRAME_HEADER_SIZE);
      checkFrameBody(size, this.#maxFrameBody, this.#cfg.maxRecordSize, 'batch');
      const scratch = this.#scratchOf(plainSize);
      encodeReserved(encodeBatchFrame, scratch, 0, first, records, plainSize, 'batch');
      const at = this.#room(size);
      if (this.#poisoned !== null) throw this.#poisoned;
      cipher.encryptFrame(this.#buf, at, scratch.subarray(FRAME_HEADER_SIZE, plainSize));
      this.#commitFrame(seg, size, first, last, records.length);
    }
    this.#stats.batches++;
    this.#stats.records += records.length;
    return last;
  }

  #lsnMismatch(firstLsn: unknown): never {
    checkLsnArgument('firstLsn', firstLsn);
    throw new WalError(
      WalErrorCode.LSN_MISMATCH,
      `the batch was to start at LSN ${firstLsn}, but the log's next LSN is ${this.#nextLsn}; append the records in between first (or from ${this.#nextLsn} on)`,
      { details: { expected: firstLsn, nextLsn: this.#nextLsn } },
    );
  }

  /** Recomputes #lsnHeadroom from nextLsn; false when fewer than `count` LSNs are left. */
  #refreshLsnHeadroom(count: number): boolean {
    const left = MAX_LSN + 1n - this.#nextLsn;
    this.#lsnHeadroom = left > 2n ** 52n ? 2 ** 52 : Number(left);
    return this.#lsnHeadroom >= count;
  }

  #scratchOf(size: number): Buffer {
    if (this.#scratch.length < size) this.#scratch = Buffer.allocUnsafeSlow(Math.max(size, 4096));
    return this.#scratch;
  }

  /** The segment the next frame goes to, rolling over when the active one is full. */
  #segmentFor(): Segment {
    const active = this.#active();
    if (active.assignedEnd >= this.#cfg.segmentTargetSize && hasRecords(active)) {
      this.#submitBuffer();
      const next = plannedSegment(this.#cfg.dir, this.#nextLsn, this.#ring);
      this.#segments.push(next);
      this.#resetBufferTo(FILE_HEADER_SIZE, this.#nextLsn, next.headerBytes);
      this.#startCreation(next, this.#takeSpare(next));
      this.#prepareSpare();
      return next;
    }
    return active;
  }

  /** Opens a spare file for the next rollover in the background, unless one is there or coming. */
  #prepareSpare(): void {
    if (this.#tail !== null || this.#cfg.readOnly || this.#closed || this.#poisoned !== null)
      return;
    if (this.#spare !== null || this.#spareJob !== null) return;
    const path = join(this.#cfg.dir, `${SPARE_FILE_PREFIX}${randomBytes(8).toString('hex')}.tmp`);
    const io = this.#io;
    this.#spareJob = (async () => {
      try {
        const fd = await io.open(path, { create: true, truncate: true, mode: 0o600 });
        if (!this.#closed) {
          this.#spare = { fd, path };
          return;
        }
        await io.close(fd);
        await io.unlink(path);
      } catch {
        // Only an optimisation: without a spare, a rollover opens its file as it always did.
      } finally {
        this.#spareJob = null;
      }
    })();
  }

  /**
   * Hands the spare file, if any, to a segment being created: its header is submitted now,
   * so the frames that follow go out at once, without waiting for the event loop.
   */
  #takeSpare(seg: Segment): Promise<IoCompletion> | null {
    const spare = this.#spare;
    if (spare === null) return null;
    this.#spare = null;
    seg.fd = spare.fd;
    seg.tmpPath = spare.path;
    seg.status = 'unnamed';
    const header = this.#io.completion(this.#io.submitWrite(spare.fd, seg.headerBytes, 0));
    header.catch(() => {});
    return header;
  }

  /** Index in #buf where a frame of `size` bytes goes, submitting the buffer first if full. */
  #room(size: number): number {
    if (this.#bufLen + size <= this.#buf.length) return this.#bufLen;
    this.#submitBuffer({ full: true });
    if (size > this.#buf.length) {
      if (this.#bufPooled) this.#pool.give(this.#bufBase);
      this.#bufPooled = false;
      if (this.#tail === null) {
        this.#bufBase = Buffer.allocUnsafeSlow(size);
        this.#buf = this.#bufBase;
      } else {
        this.#bufBase = newDirectBuffer(size);
        this.#buf = this.#tail.frameView(this.#bufBase, this.#bufOffset, size);
      }
    }
    return 0;
  }

  #commitFrame(seg: Segment, size: number, first: bigint, last: bigint, count: number): void {
    if (this.#tail !== null) this.#noteBlockBoundary(size, first, last);
    this.#bufLen += size;
    seg.assignedEnd += size;
    seg.lastLsn = last;
    this.#nextLsn = last + 1n;
    // Counting down a number costs nothing; a rollback that moves nextLsn back only leaves
    // it low, and the next append recomputes it.
    this.#lsnHeadroom -= count;
    this.#stats.bytesAppended += size;
  }

  /** Direct I/O: tracks the last block boundary the frame about to be committed reaches. */
  #noteBlockBoundary(size: number, first: bigint, last: bigint): void {
    const start = this.#bufOffset + this.#bufLen;
    const end = start + size;
    const boundary = end - (end % BLOCK);
    if (boundary < start) return;
    if (boundary === end) {
      this.#blockLsn = last;
      this.#blockFrameStart = end;
    } else {
      this.#blockLsn = first - 1n;
      this.#blockFrameStart = start;
    }
  }

  // --------------------------------------------------------------- write path

  /**
   * Hands the filled part of the write buffer to the StorageIo (or queues it behind segment
   * creation). With `holdFlush` the write stays queued and unwatched: the caller links an
   * fdatasync behind it, flushes, then watches it (claiming a completion flushes the queue,
   * which would send the write alone and hold the fdatasync back until the write is done).
   *
   * `full`: the buffer is full and more frames follow at once. With direct I/O such a write
   * stops at the last block boundary and the frame across it is carried over to the next
   * write, so that two bulk writes never share a block and need not wait for each other.
   */
  #submitBuffer(
    options: { holdFlush?: boolean; full?: boolean } = {},
  ): { write: PendingWrite; token: number } | null {
    if (this.#bufLen === 0 && this.#bufDataStart === this.#bufOffset) return null;
    if (this.#bufUnsealed) {
      sealFrames(this.#buf, 0, this.#bufLen);
      this.#bufUnsealed = false;
    }
    const seg = this.#active();
    const encodedEnd = this.#bufOffset + this.#bufLen;
    // The last boundary a frame of this buffer reached is alignDown(encodedEnd) whenever it
    // lies past the buffer's first block, so #blockLsn and #blockFrameStart describe it.
    const carry =
      options.full === true &&
      this.#tail !== null &&
      alignDown(encodedEnd) > alignDown(this.#bufOffset);
    const dataEnd = carry ? this.#blockFrameStart : encodedEnd;
    const lastLsn = carry ? this.#blockLsn : this.#nextLsn - 1n;
    const out =
      this.#tail === null
        ? { buf: this.#buf, fileOffset: this.#bufOffset, length: this.#bufLen }
        : this.#tail.complete(this.#bufBase, this.#bufOffset, this.#bufLen, !carry);
    const write = newPendingWrite({
      seg,
      buf: out.buf,
      length: out.length,
      fileOffset: out.fileOffset,
      dataStart: this.#bufDataStart,
      dataEnd,
      firstLsn: this.#bufFirstLsn,
      lastLsn,
      pooledBuffer: this.#bufPooled ? this.#bufBase : null,
    });
    this.#writes.push(write);
    this.#bufOffset = encodedEnd;
    this.#bufLen = 0;
    this.#bufFirstLsn = lastLsn + 1n;
    this.#bufDataStart = dataEnd;
    this.#bufBase = this.#pool.take();
    this.#buf =
      this.#tail === null
        ? this.#bufBase
        : this.#tail.frameView(this.#bufBase, encodedEnd, this.#cfg.writeBufferSize);
    this.#bufPooled = true;
    // The writes not yet in the completed prefix hold their buffers, plus the one filling.
    this.#pool.noteOut(this.#writes.length + 1);
    if (seg.status === 'pending') {
      this.#startCreation(seg);
      return null;
    }
    if (this.#zeroFill?.mustHold(seg, write.fileOffset + write.length)) return null;
    if (this.#overlapsUnfinished(write)) return null;
    const token = this.#submitWrite(write);
    // A held flush means a linked fdatasync comes next: a fill must not get in between.
    if (options.holdFlush === true) return { write, token };
    this.#io.flush();
    this.#watch(write, token);
    this.#zeroFill?.maybeStart(seg);
    return { write, token };
  }

  /**
   * Whether `w` must wait for the write before it: with direct I/O, a write rewrites the
   * partial last block of the one before, and two writes of one block in flight at once
   * may reach the disk in either order.
   */
  #overlapsUnfinished(w: PendingWrite): boolean {
    const i = this.#writes.indexOf(w);
    const before = i > 0 ? this.#writes[i - 1]! : undefined;
    if (before === undefined || before.seg !== w.seg) return false;
    if (before.status !== 'queued' && before.status !== 'inflight') return false;
    return before.fileOffset + before.length > w.fileOffset;
  }

  /**
   * Submits, in order, the writes queued for `seg` (behind its creation, a zero fill or,
   * with direct I/O, the write of the block they share), up to the first that must still wait.
   */
  #submitQueued(seg: Segment): void {
    const submitted: { w: PendingWrite; token: number }[] = [];
    for (const w of this.#writes) {
      if (w.seg !== seg || w.status !== 'queued') continue;
      if (this.#zeroFill?.blocks(seg, w.fileOffset + w.length) || this.#overlapsUnfinished(w)) {
        break;
      }
      submitted.push({ w, token: this.#submitWrite(w) });
    }
    if (submitted.length === 0) return;
    this.#io.flush();
    for (const { w, token } of submitted) this.#watch(w, token);
  }

  /** After a fill: the writes it held go out (even while closing), then the next fill may start. */
  #onZeroFillIdle(filled: Segment): void {
    if (this.#poisoned !== null || this.#rollback !== null) return;
    const active = this.#active();
    for (const seg of filled === active ? [active] : [filled, active]) {
      if (seg.status !== 'pending' && seg.fd !== null) this.#submitQueued(seg);
    }
    if (!this.#closed) this.#zeroFill?.maybeStart(active);
  }

  /** Submits (the rest of) a write; -1 when the StorageIo refused it, which poisons the log. */
  #submitWrite(w: PendingWrite): number {
    w.status = 'inflight';
    this.#stats.writes++;
    if (w.lastLsn > this.#submittedLsn) this.#submittedLsn = w.lastLsn;
    try {
      return this.#io.submitWrite(
        w.seg.fd!,
        w.buf.subarray(w.done, w.length),
        w.fileOffset + w.done,
      );
    } catch (err) {
      w.status = 'failed';
      w.settle();
      this.#poison(err);
      return -1;
    }
  }

  #watch(w: PendingWrite, token: number): void {
    if (token < 0) return;
    try {
      this.#io.onCompletion(token, (c) => this.#onWriteCompletion(w, c));
    } catch (err) {
      this.#onWriteCompletion(w, null, err);
    }
  }

  #onWriteCompletion(w: PendingWrite, c: IoCompletion | null, thrown?: unknown): void {
    if (w.discard) {
      w.status = 'discarded';
      w.settle();
      return;
    }
    if (c === null || c.result < 0) {
      const errno = c === null ? 5 : -c.result;
      w.status = 'failed';
      w.settle();
      const err =
        c === null && isWalError(thrown)
          ? thrown
          : ioErrorFromErrno(errno, 'write', w.seg.path, thrown);
      if (isNoSpace(errno) || isWalError(err, WalErrorCode.NO_SPACE)) {
        this.#startRollback(w.seg, w.dataStart, w.firstLsn, err);
      } else {
        this.#poison(err);
      }
      return;
    }
    const remaining = w.length - w.done;
    if (c.result < remaining) {
      if (c.result === 0) {
        w.status = 'failed';
        w.settle();
        this.#poison(ioErrorFromErrno(5, 'write (no progress)', w.seg.path));
        return;
      }
      // A short write is not a hole: the rest goes out again from where it stopped (with
      // direct I/O, from the start of the sector it stopped in, which is rewritten).
      let done = w.done + c.result;
      if (this.#tail !== null) done -= done % DIRECT_IO_SECTOR;
      if (done === w.done) {
        w.status = 'failed';
        w.settle();
        this.#poison(ioErrorFromErrno(5, 'write (not one whole sector written)', w.seg.path));
        return;
      }
      w.done = done;
      this.#stats.shortWrites++;
      this.#stats.bytesWritten += c.result;
      if (this.#poisoned !== null || this.#closed) {
        w.status = 'failed';
        w.settle();
        return;
      }
      const token = this.#submitWrite(w);
      this.#io.flush();
      this.#watch(w, token);
      return;
    }
    w.done = w.length;
    this.#stats.bytesWritten += c.result;
    w.status = 'done';
    if (w.pooledBuffer !== null) this.#pool.give(w.pooledBuffer);
    w.settle();
    this.#advanceWritten();
    if (this.#tail !== null && this.#poisoned === null && this.#rollback === null) {
      this.#releaseHeldBehind(w);
    }
  }

  /** With direct I/O: a write held behind `done` (they share a block) may go out now. */
  #releaseHeldBehind(done: PendingWrite): void {
    const seg = done.seg;
    if (seg.status === 'pending' || seg.fd === null) return;
    if (this.#writes.some((w) => w.seg === seg && w.status === 'queued')) this.#submitQueued(seg);
  }

  /** Moves writtenLsn over the prefix of completed writes. */
  #advanceWritten(): void {
    let n = 0;
    while (n < this.#writes.length && this.#writes[n]!.status === 'done') {
      const w = this.#writes[n]!;
      w.seg.completedEnd = w.dataEnd;
      this.#writeback?.afterWrite(w.seg);
      if (w.lastLsn >= w.firstLsn) {
        w.seg.writtenLsn = w.lastLsn;
        this.#writtenLsn = w.lastLsn;
      }
      n++;
    }
    if (n === 0) return;
    this.#writes.splice(0, n);
    if (this.#flushWaiters.length > 0) {
      const ready = this.#flushWaiters.filter((f) => f.target <= this.#writtenLsn);
      this.#flushWaiters = this.#flushWaiters.filter((f) => f.target > this.#writtenLsn);
      for (const f of ready) f.resolve(this.#writtenLsn);
    }
    if (this.#writtenListeners.size > 0)
      this.#notify(this.#writtenListeners, this.#writtenLsn, 'onWritten');
  }

  // ---------------------------------------------------------- segment creation

  /**
   * Starts the job that creates a planned segment. Its file is opened (under the tmp name)
   * at once, so writes for it never wait for the previous segment's fdatasync; only the
   * rename waits, behind the job of the segment before it.
   */
  #startCreation(seg: Segment, header: Promise<IoCompletion> | null = null): void {
    if (seg.creating !== null || (seg.status !== 'pending' && header === null)) return;
    const job = this.#create(seg, this.#creationChain, header);
    seg.creating = job;
    this.#creationChain = job.then(
      () => {},
      () => {},
    );
  }

  /**
   * Creates a planned segment: writes it as `<name>.tmp` (header, optional preallocation)
   * and lets the queued and all later writes for it go out; then, once the job of the
   * segment before it is done, makes the previous segment durable (so a crash can never
   * leave a newer segment after an older one's lost tail), fsyncs the new file, renames it
   * into place and fsyncs the directory. Only then is the segment `ready`: a sync round for
   * a record in it waits for this job (docs/decisions/0306-rollover-off-the-append-path.md).
   */
  async #create(
    seg: Segment,
    previous: Promise<void>,
    spareHeader: Promise<IoCompletion> | null,
  ): Promise<void> {
    if (!this.#segments.includes(seg)) return;
    if (spareHeader === null && seg.status !== 'pending') return;
    const io = this.#io;
    let renamed = false;
    try {
      let fd: number;
      if (spareHeader !== null) {
        // Written into a spare file: its header went out with the rollover, frames follow it.
        fd = seg.fd!;
        const c = await spareHeader;
        if (c.result !== seg.headerBytes.length) {
          throw ioErrorFromErrno(
            c.result < 0 ? c.result : 5,
            'write (segment header)',
            seg.tmpPath,
          );
        }
      } else {
        // A replacement has the same tmp name as the file it replaces, whose job may run.
        if (seg.replaces) await previous;
        if (this.#poisoned !== null || !this.#segments.includes(seg)) return;
        const direct = this.#tail !== null;
        fd = await io.open(seg.tmpPath, { create: true, truncate: true, mode: 0o600, direct });
        seg.fd = fd;
        // Frames wait for the header: with direct I/O the first of them rewrite its block.
        await io.write(fd, direct ? paddedToBlocks(seg.headerBytes) : seg.headerBytes, 0);
        seg.status = 'unnamed';
      }
      if (this.#cfg.preallocate) await this.#preallocate(fd);
      if (this.#poisoned === null && this.#segments.includes(seg)) this.#submitQueued(seg);
      await previous;
      if (!(await this.#sealPredecessor(seg))) {
        await this.#abandon(seg);
        return;
      }
      await io.fsync(fd);
      if (this.#poisoned !== null || !this.#segments.includes(seg)) {
        await this.#abandon(seg);
        return;
      }
      renamed = true;
      await io.rename(seg.tmpPath, seg.path);
      await io.syncDirectory(this.#cfg.dir);
      this.#stats.segmentsCreated++;
      seg.status = 'ready';
      seg.replaces = false;
      if (!this.#segments.includes(seg)) {
        // Replaced (setEncryptionRing) while it was being created: the replacement renames over it.
        this.#fdsToClose.push(fd);
        seg.fd = null;
        this.#closeIdleFds();
        return;
      }
      if (this.#closed || this.#poisoned !== null) return;
      this.#zeroFill?.maybeStart(seg);
    } catch (err) {
      if (!renamed && isWalError(err, WalErrorCode.NO_SPACE) && this.#poisoned === null) {
        this.#startRollback(seg, FILE_HEADER_SIZE, seg.firstLsn, err);
        await this.#abandon(seg);
      } else {
        this.#poison(err);
      }
    } finally {
      seg.creating = null;
    }
  }

  /**
   * Makes the segment before `seg` durable and seals it. False when that is impossible:
   * one of its writes failed (a rollback cuts there), its own creation did not finish, or
   * the log is poisoned.
   */
  async #sealPredecessor(seg: Segment): Promise<boolean> {
    const index = this.#segments.indexOf(seg);
    const prev = index > 0 ? this.#segments[index - 1]! : undefined;
    if (this.#poisoned !== null || index < 0) return false;
    if (prev === undefined || prev.status === 'sealed') return true;
    if (prev.status !== 'ready' || prev.fd === null) return false;
    const earlier = this.#writes.filter((w) => w.seg === prev);
    await Promise.all(earlier.map((w) => w.settled));
    if (earlier.some((w) => w.status !== 'done') || this.#poisoned !== null) return false;
    // No fill starts on a segment that is no longer the active one; let a running one end.
    await this.#zeroFill?.idle();
    try {
      await this.#io.datasync(prev.fd);
    } catch (err) {
      this.#poison(err);
      return false;
    }
    this.#stats.syncs++;
    prev.status = 'sealed';
    this.#fdsToClose.push(prev.fd);
    prev.fd = null;
    this.#closeIdleFds();
    this.#advanceDurable(prev.lastLsn);
    return true;
  }

  /**
   * Gives up a segment that was never renamed: once its writes have settled, its tmp file
   * is closed and removed and it is `pending` again (a rollback cuts it or plans it anew).
   */
  async #abandon(seg: Segment): Promise<void> {
    await Promise.all(this.#writes.filter((w) => w.seg === seg).map((w) => w.settled));
    await this.#writeback?.idle();
    const fd = seg.fd;
    seg.fd = null;
    seg.status = 'pending';
    if (fd !== null) await this.#io.close(fd).catch(() => {});
    await this.#io.unlink(seg.tmpPath).catch(() => {});
  }

  async #preallocate(fd: number): Promise<void> {
    try {
      await this.#io.fallocate(fd, 0, this.#cfg.segmentTargetSize);
      this.#stats.preallocation = true;
    } catch (err) {
      if (isWalError(err) && err.details.errno === EOPNOTSUPP) {
        this.#stats.preallocation = false;
        return;
      }
      throw err;
    }
  }

  #closeIdleFds(): void {
    if (this.#roundActive || this.#fdsToClose.length === 0 || this.#writeback?.busy) return;
    const fds = this.#fdsToClose;
    this.#fdsToClose = [];
    for (const fd of fds) this.#io.close(fd).catch(() => {});
  }

  // ------------------------------------------------------------------ failures

  #poison(cause: unknown): void {
    if (this.#poisoned !== null) return;
    const inner = cause instanceof Error ? cause.message : String(cause);
    this.#poisoned = new WalError(
      WalErrorCode.POISONED,
      `the log is poisoned by a failed write or fsync (${inner}); data not yet durable may be lost and fsync errors cannot be retried safely. Close and reopen the log (recovery will check it)`,
      { cause, details: isWalError(cause) ? { ...cause.details } : {} },
    );
    const err = this.#poisoned;
    for (const w of this.#writes) {
      if (w.status === 'queued') {
        w.status = 'failed';
        w.settle();
      }
    }
    for (const w of this.#waiters) w.reject(err);
    this.#waiters = [];
    for (const f of this.#flushWaiters) f.reject(err);
    this.#flushWaiters = [];
  }

  /**
   * The disk is full. Once every write in flight has settled, the first write that did not
   * complete (or the segment whose creation failed) marks the cut: every record from there
   * on is thrown away (none was acknowledged), the file is cut back to the last fully
   * written frame, and appending continues at that LSN once space is free. Failures that
   * arrive while this runs are folded into the same cut.
   */
  #startRollback(seg: Segment, offset: number, lostFrom: bigint, cause: unknown): void {
    if (this.#poisoned !== null) return;
    if (this.#rollbackPoint === null || lostFrom < this.#rollbackPoint.lostFrom) {
      this.#rollbackPoint = { seg, offset, lostFrom };
    }
    if (this.#rollback !== null) return;
    const provisional = new WalError(
      WalErrorCode.NO_SPACE,
      'the disk is full: a write failed and the log is rolling back the records it held; free space, then append them again',
      { cause },
    );
    this.#rollbackError = provisional;
    this.#stats.rollbacks++;
    this.#rollback = (async () => {
      this.#bufLen = 0;
      for (const w of this.#writes) {
        if (w.status === 'queued') {
          // Queued behind a segment that is not created: always after the failure.
          w.discard = true;
          w.status = 'discarded';
          w.settle();
        }
      }
      await Promise.all(this.#writes.map((w) => w.settled));
      await this.#creationChain;
      await this.#zeroFill?.idle();
      if (this.#poisoned !== null) return;
      const firstBad = this.#writes.find((w) => w.status !== 'done');
      let point = this.#rollbackPoint!;
      if (firstBad !== undefined && firstBad.firstLsn < point.lostFrom) {
        point = { seg: firstBad.seg, offset: firstBad.dataStart, lostFrom: firstBad.firstLsn };
      }
      const { seg: cutSeg, offset: cutAt, lostFrom: from } = point;
      const lostTo = this.#nextLsn - 1n;
      const err = new WalError(
        WalErrorCode.NO_SPACE,
        `the disk is full: records ${from}..${lostTo} could not be written and were rolled back (none was acknowledged); free space, then append them again`,
        {
          cause,
          details: { segment: cutSeg.path, offset: cutAt, lostFromLsn: from, lostToLsn: lostTo },
        },
      );
      this.#rollbackError = err;
      this.#writes = this.#writes.filter((w) => w.firstLsn < from && w.status === 'done');
      this.#advanceWritten();
      const index = this.#segments.indexOf(cutSeg);
      for (const later of this.#segments.splice(index + 1)) {
        if (later.fd !== null) this.#fdsToClose.push(later.fd);
      }
      if (cutSeg.fd !== null) {
        try {
          await this.#io.truncate(cutSeg.fd, cutAt);
        } catch (truncErr) {
          this.#poison(truncErr);
          return;
        }
      }
      this.#forgetFrom(cutSeg, cutAt, from);
      let before: Uint8Array;
      try {
        before = await this.#bytesBefore(cutSeg);
      } catch (readErr) {
        this.#poison(readErr);
        return;
      }
      cutSeg.completedEnd = Math.min(cutSeg.completedEnd, cutAt);
      cutSeg.zeroedEnd = cutAt;
      cutSeg.writebackEnd = Math.min(cutSeg.writebackEnd, cutAt);
      if (cutSeg.writtenLsn > from - 1n) cutSeg.writtenLsn = from - 1n;
      if (this.#writtenLsn > from - 1n) this.#writtenLsn = from - 1n;
      this.#resetBufferTo(cutAt, from, before);
      for (const listener of this.#rollbackListeners) {
        try {
          listener(from - 1n, err);
        } catch (listenerErr) {
          process.emitWarning(
            `an onRollback listener threw: ${(listenerErr as Error)?.message ?? listenerErr}`,
          );
        }
      }
      let told = false;
      this.#waiters = this.#waiters.filter((w) => {
        if (w.target < from) return true;
        w.reject(err);
        told = true;
        return false;
      });
      this.#flushWaiters = this.#flushWaiters.filter((f) => {
        if (f.target < from) return true;
        f.reject(err);
        told = true;
        return false;
      });
      if (!told) this.#unreportedLoss = err;
    })().finally(() => {
      this.#rollback = null;
      this.#rollbackPoint = null;
      this.#closeIdleFds();
      this.#pump();
    });
  }

  /**
   * The log now ends at `cutAt` in `seg`, with the records from LSN `from` on forgotten as if
   * never appended: the next append gets `from`. Shared by a rollback (whose cut is in the
   * file) and by `dropUnsubmittedAbove` (whose cut is in the write buffer).
   */
  #forgetFrom(seg: Segment, cutAt: number, from: bigint): void {
    seg.assignedEnd = cutAt;
    seg.lastLsn = from - 1n;
    this.#nextLsn = from;
    if (this.#submittedLsn > from - 1n) this.#submittedLsn = from - 1n;
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
    if (this.#cfg.readOnly) return this.#nextLsn - 1n;
    if (this.#poisoned !== null || this.#rollback !== null) return this.#submittedLsn;
    const keep = lsn > this.#submittedLsn ? lsn : this.#submittedLsn;
    if (keep >= this.#nextLsn - 1n || this.#bufLen === 0) return this.#nextLsn - 1n;
    if (this.#bufUnsealed) {
      sealFrames(this.#buf, 0, this.#bufLen);
      this.#bufUnsealed = false;
    }
    const seg = this.#active();
    // The buffer's frames carry their LSNs: the cut goes before the first frame after `keep`.
    const scanner = new FrameScanner(this.#buf, {
      end: this.#bufLen,
      maxFrameBody: this.#maxFrameBody,
      ...(seg.writeCipher === undefined ? {} : { cipher: seg.writeCipher }),
    });
    for (;;) {
      const frameStart = scanner.offset;
      if (!scanner.advance()) break;
      const first = scanner.offset !== frameStart;
      const at = scanner.lsn;
      if (first && at > keep) {
        this.#bufLen = frameStart;
        this.#forgetFrom(seg, this.#bufOffset + frameStart, at);
        break;
      }
    }
    return this.#nextLsn - 1n;
  }

  /** Throws the loss a rollback caused if nobody was waiting to hear about it. */
  #takeUnreportedLoss(): WalError | null {
    const err = this.#unreportedLoss;
    this.#unreportedLoss = null;
    return err;
  }

  // ---------------------------------------------------------------- flush/sync

  /** Resolves once everything appended so far was written to the OS; resolves with writtenLsn. */
  async flush(): Promise<bigint> {
    this.#checkUsable();
    if (this.#cfg.readOnly) throw readOnlyError('flush');
    if (this.#rollback !== null) {
      await this.#rollback;
      this.#checkUsable();
    }
    const loss = this.#takeUnreportedLoss();
    if (loss !== null) throw loss;
    const target = this.#nextLsn - 1n;
    this.#submitBuffer();
    if (target <= this.#writtenLsn) return this.#writtenLsn;
    return new Promise<bigint>((resolve, reject) => {
      this.#flushWaiters.push({ target, resolve, reject });
    });
  }

  /**
   * Makes every record appended before the call durable and resolves with durableLsn.
   * Concurrent calls share one fdatasync; while one is on disk the next group fills.
   */
  async sync(): Promise<bigint> {
    this.#checkUsable();
    if (this.#cfg.readOnly) throw readOnlyError('sync');
    if (this.#rollback !== null) {
      await this.#rollback;
      this.#checkUsable();
    }
    const loss = this.#takeUnreportedLoss();
    if (loss !== null) throw loss;
    const target = this.#nextLsn - 1n;
    if (target <= this.#durableLsn) return this.#durableLsn;
    const done = new Promise<bigint>((resolve, reject) => {
      this.#waiters.push({ target, resolve, reject });
    });
    this.#pump();
    return done;
  }

  /** Starts a sync round when waiters need one and none runs. */
  #pump(): void {
    if (this.#roundActive || this.#rollback !== null || this.#poisoned !== null) return;
    if (this.#waiters.length === 0) return;
    this.#roundActive = true;
    this.#runRound().then(
      () => {
        this.#roundActive = false;
        this.#closeIdleFds();
        this.#pump();
      },
      (err) => {
        this.#roundActive = false;
        this.#closeIdleFds();
        if (isWalError(err, WalErrorCode.NO_SPACE) && this.#poisoned === null) {
          // The rollback rejects the waiters it concerns and pumps again when done.
          this.#pump();
          return;
        }
        this.#poison(err);
      },
    );
  }

  async #runRound(): Promise<void> {
    const target = this.#nextLsn - 1n;
    const active = this.#active();
    let linkedSync: Promise<IoCompletion> | null = null;
    let linkedEnd = 0;
    const othersBusy = this.#writes.length > 0;
    if (this.#bufLen > 0 && active.status === 'ready' && !othersBusy) {
      // The common case: one buffer to write and nothing else in flight. The fdatasync is
      // linked behind the write, so both reach the kernel together.
      const submitted = this.#submitBuffer({ holdFlush: true });
      if (submitted !== null && submitted.token >= 0) {
        let syncToken: number;
        try {
          syncToken = this.#io.submitDatasync(active.fd!, { linkToPrevious: true });
        } catch (err) {
          // The write is in the backend: flushed and watched all the same, so it settles
          // and close() does not wait for it forever.
          try {
            this.#io.flush();
          } finally {
            this.#watch(submitted.write, submitted.token);
          }
          throw err;
        }
        this.#stats.syncs++;
        this.#io.flush();
        this.#watch(submitted.write, submitted.token);
        linkedSync = this.#io.completion(syncToken);
        linkedEnd = submitted.write.dataEnd;
        this.#zeroFill?.maybeStart(active);
      }
    } else {
      this.#submitBuffer();
    }
    const covering = this.#writes.slice();
    await Promise.all(covering.map((w) => w.settled));
    const failed = covering.find((w) => w.status !== 'done');
    if (failed !== undefined) {
      if (linkedSync !== null) await linkedSync;
      if (this.#poisoned !== null) throw this.#poisoned;
      throw this.#rollbackError ?? new WalError(WalErrorCode.IO, 'a write failed');
    }
    if (this.#poisoned !== null) throw this.#poisoned;
    let synced = false;
    if (linkedSync !== null) {
      const c = await linkedSync;
      if (c.result === 0) {
        synced = true;
        this.#writeback?.covered(active, linkedEnd);
      } else if (c.result !== -ECANCELED) {
        throw ioErrorFromErrno(-c.result, 'fdatasync', active.path);
      }
      // Cancelled: its write was short and finished by a resubmission; sync again below.
    }
    if (!synced) {
      const seg = this.#segmentHolding(target);
      if (seg !== undefined && !isNamed(seg)) await this.#named(seg);
      if (seg !== undefined && seg.status === 'ready' && seg.fd !== null) {
        this.#stats.syncs++;
        const end = seg.completedEnd;
        await this.#io.datasync(seg.fd);
        this.#writeback?.covered(seg, end);
      }
      // A sealed segment was fdatasynced when it was sealed.
    }
    if (this.#poisoned !== null) throw this.#poisoned;
    this.#advanceDurable(target);
  }

  /**
   * Waits until a segment's file is renamed into place (and its predecessor sealed); a
   * record in it is not durable before that, whatever fdatasync says.
   */
  async #named(seg: Segment): Promise<void> {
    while (seg.creating !== null) await seg.creating;
    if (this.#poisoned !== null) throw this.#poisoned;
    if (!isNamed(seg)) {
      throw (
        this.#rollbackError ??
        new WalError(
          WalErrorCode.IO,
          `segment ${seg.path} could not be created; see the log's earlier errors`,
        )
      );
    }
  }

  #segmentHolding(lsn: bigint): Segment | undefined {
    for (let i = this.#segments.length - 1; i >= 0; i--) {
      const seg = this.#segments[i]!;
      if (seg.firstLsn <= lsn) return seg;
    }
    return undefined;
  }

  #advanceDurable(lsn: bigint): void {
    if (lsn <= this.#durableLsn || this.#poisoned !== null) return;
    this.#durableLsn = lsn;
    const done = this.#waiters.filter((w) => w.target <= lsn);
    this.#waiters = this.#waiters.filter((w) => w.target > lsn);
    for (const w of done) w.resolve(lsn);
    this.#notify(this.#durableListeners, lsn, 'onDurable');
  }

  // ------------------------------------------------------------ encryption

  /**
   * Encrypts every record appended from now on with `ring`'s current key. Only before the
   * first append into the active segment (else WAL_BAD_STATE); the active segment is then
   * replaced by a fresh, encrypted one.
   */
  setEncryptionRing(ring: KeyRing): void {
    if (!isKeyRing(ring)) badArgument('ring', 'a KeyRing from @walnut/codec', ring);
    this.#checkUsable();
    if (this.#cfg.readOnly) {
      this.#ring = ring;
      return;
    }
    const active = this.#active();
    if (hasRecords(active) || this.#rollback !== null) {
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `setEncryptionRing must come before the first append into the active segment, which already holds records from LSN ${active.firstLsn}; set it right after open()`,
      );
    }
    this.#ring = ring;
    if (active.status === 'pending' && active.creating === null) {
      this.#segments.pop();
    }
    this.#planNewActive();
  }

  // ---------------------------------------------------------------- follow

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
    this.#checkUsable();
    if (!this.#cfg.readOnly) {
      throw new WalError(
        WalErrorCode.BAD_STATE,
        'refresh() is for read-only openers: a writer knows its own log',
      );
    }
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<bigint> {
    const state: FollowState = {
      io: this.#io,
      dir: this.#cfg.dir,
      ring: this.#ring,
      maxFrameBody: this.#maxFrameBody,
      segments: this.#segments.slice(),
      floorLsn: this.#floorLsn,
      nextLsn: this.#nextLsn,
      lastFrame: this.#lastFrame,
    };
    await followLog(state);
    const durable = this.#durableLsn;
    await makeDurable(
      this.#io,
      this.#cfg.dir,
      state.segments.filter((seg) => seg.lastLsn > durable),
    );
    this.#checkUsable();
    this.#segments = state.segments;
    this.#floorLsn = state.floorLsn;
    this.#lastFrame = state.lastFrame;
    const found = state.nextLsn - 1n;
    if (found > this.#writtenLsn) {
      this.#nextLsn = state.nextLsn;
      this.#writtenLsn = found;
      this.#notify(this.#writtenListeners, found, 'onWritten');
    }
    this.#advanceDurable(found);
    return this.#writtenLsn;
  }

  // ---------------------------------------------------------------- truncate

  /**
   * Deletes sealed segments wholly below `checkpointLsn`. The new floor is written
   * (atomically) before anything is deleted, so a crash in between only leaves extra files
   * that the next open removes.
   */
  async truncateBefore(checkpointLsn: bigint): Promise<TruncateResult> {
    checkLsnArgument('checkpointLsn', checkpointLsn);
    this.#checkUsable();
    if (this.#cfg.readOnly) throw readOnlyError('truncateBefore');
    const run = this.#truncateChain.then(() => this.#truncate(checkpointLsn));
    this.#truncateChain = run.catch(() => {});
    return run;
  }

  async #truncate(checkpointLsn: bigint): Promise<TruncateResult> {
    this.#checkUsable();
    const segs = this.#segments;
    let count = 0;
    while (
      count + 1 < segs.length &&
      segs[count]!.status === 'sealed' &&
      isNamed(segs[count + 1]!) &&
      segs[count + 1]!.firstLsn <= checkpointLsn
    ) {
      count++;
    }
    if (count === 0) return { segmentsDeleted: 0, bytesReclaimed: 0 };
    const doomed = segs.slice(0, count);
    const newFloor = segs[count]!.firstLsn;
    try {
      await writeFloor(this.#io, this.#cfg.dir, newFloor);
      this.#floorLsn = newFloor;
      let bytes = 0;
      for (const seg of doomed) {
        bytes += (await this.#io.stat(seg.path))?.size ?? 0;
        await this.#io.unlink(seg.path);
        const at = this.#segments.indexOf(seg);
        if (at >= 0) this.#segments.splice(at, 1);
      }
      await this.#io.syncDirectory(this.#cfg.dir);
      return { segmentsDeleted: doomed.length, bytesReclaimed: bytes };
    } catch (err) {
      if (isWalError(err, WalErrorCode.NO_SPACE)) throw err;
      // A failed fsync of the directory or the floor cannot be retried safely.
      this.#poison(err);
      throw this.#poisoned;
    }
  }

  // ------------------------------------------------------------------ replay

  /** Every record from the floor on, in LSN order, streamed in bounded memory. */
  replay(): AsyncIterable<WalRecord> {
    return this.replayFrom(this.#floorLsn);
  }

  /**
   * Records with LSN ≥ `lsn` that were written when the replay started. Payloads are views
   * into a freshly read chunk: they stay valid while held; copy them only to keep a small
   * part of a large chunk alive.
   */
  replayFrom(lsn: bigint): AsyncIterable<WalRecord> {
    this.#checkReplayFrom(lsn);
    const source = this.#replaySource();
    return { [Symbol.asyncIterator]: () => new ReplayIterator(source, lsn) };
  }

  #checkReplayFrom(lsn: bigint): void {
    checkLsnArgument('lsn', lsn);
    this.#checkUsable();
    if (lsn < this.#floorLsn) {
      throw new WalError(
        WalErrorCode.REPLAY_BELOW_FLOOR,
        `cannot replay from LSN ${lsn}: records below ${this.#floorLsn} were truncated (truncateBefore); replay from ${this.#floorLsn} or later`,
        { details: { lsn, floorLsn: this.#floorLsn } },
      );
    }
  }

  #replaySource(): ReplaySource {
    return {
      io: this.#io,
      ring: this.#ring,
      maxFrameBody: this.#maxFrameBody,
      chunkSize: Math.max(DEFAULT_READ_CHUNK, this.#cfg.writeBufferSize),
      segments: () => this.#segments.slice(),
      readableLsn: () => this.#writtenLsn,
    };
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
    this.#checkReplayFrom(lsn);
    const hint = this.#pageHint !== null && this.#pageHint.lsn === lsn ? this.#pageHint : undefined;
    const it = new ReplayIterator(this.#replaySource(), lsn, hint, true);
    const records: WalRecord[] = [];
    try {
      for (;;) {
        const step = await it.next();
        if (step.done === true) {
          // A reader that comes back for what is written next (Wal.tail after each group
          // commit) starts at the last frame read instead of scanning the segment again.
          const last = records[records.length - 1];
          const at = last === undefined ? null : it.position();
          if (at !== null) this.#pageHint = { lsn: last!.lsn + 1n, ...at };
          return { records, hasMore: false };
        }
        if (records.length === max) {
          const at = it.position();
          this.#pageHint = at === null ? null : { lsn: step.value.lsn, ...at };
          return { records, hasMore: true };
        }
        records.push(step.value);
      }
    } finally {
      await it.return();
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<WalRecord> {
    return this.replay()[Symbol.asyncIterator]();
  }

  // -------------------------------------------------------------- inspection

  /** The segments on disk, oldest first. */
  async listSegments(): Promise<SegmentInfo[]> {
    this.#checkUsable();
    const out: SegmentInfo[] = [];
    const segs = this.#segments.filter(isNamed);
    for (const seg of segs) {
      const st = await this.#io.stat(seg.path);
      if (st === null) continue;
      out.push({
        path: seg.path,
        firstLsn: seg.firstLsn,
        lastLsn: seg.writtenLsn >= seg.firstLsn ? seg.writtenLsn : null,
        sizeBytes: st.size,
        sealed: seg.status === 'sealed' && seg !== this.#segments[this.#segments.length - 1],
        encrypted: seg.header.cipher !== 'none',
        keyId: seg.header.keyId,
      });
    }
    return out;
  }

  /** Bytes the segments take on disk. */
  async totalSizeBytes(): Promise<number> {
    let total = 0;
    for (const s of await this.listSegments()) total += s.sizeBytes;
    return total;
  }

  // ------------------------------------------------------------------- close

  /**
   * Writes out the buffer (no fsync: sync() first for durability), waits for in-flight
   * work, closes the files and releases the lock. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#closing = this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (!this.#cfg.readOnly && this.#poisoned === null && this.#rollback === null) {
      try {
        this.#submitBuffer();
      } catch {
        // The StorageIo refused the write (closed under us): nothing more can be saved.
      }
    }
    this.#closed = true;
    const err = closedError();
    await this.#refreshing?.catch(() => {});
    await Promise.all(this.#writes.map((w) => w.settled));
    if (this.#rollback !== null) await this.#rollback;
    await this.#creationChain;
    await this.#truncateChain;
    await this.#zeroFill?.idle();
    while (this.#roundActive) await new Promise((r) => setImmediate(r));
    await this.#writeback?.idle();
    for (const w of this.#waiters) w.reject(err);
    this.#waiters = [];
    for (const f of this.#flushWaiters) f.reject(err);
    this.#flushWaiters = [];
    for (const seg of this.#segments) {
      if (seg.fd !== null) {
        this.#fdsToClose.push(seg.fd);
        seg.fd = null;
      }
    }
    await this.#spareJob;
    const spare = this.#spare;
    this.#spare = null;
    if (spare !== null) {
      try {
        await this.#io.close(spare.fd);
        await this.#io.unlink(spare.path);
      } catch {
        // Disposable: the next writer's recovery removes a spare left behind.
      }
    }
    const fds = this.#fdsToClose;
    this.#fdsToClose = [];
    for (const fd of fds) await this.#io.close(fd).catch(() => {});
    if (this.#lock !== null) await this.#lock.release().catch(() => {});
    if (this.#ownsIo) await this.#io.closeIo();
  }
}
