import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  type Compression,
  FILE_HEADER_SIZE,
  isWalError,
  jsonReady,
  type KeyRing,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { Errno, type IoCompletion, ioErrorFromErrno, type StorageIo } from '@walnut/storage-io';
import { recordFloorBeforeDeleting, writeFloorIfSpace } from '../files/floor.js';
import { recordHead } from '../files/head.js';
import type { LogClock } from '../files/log-clock.js';
import { hasRecords, isNamed, plannedSegment, type Segment, syncBeside } from '../files/segment.js';
import { paddedToBlocks } from './direct-io.js';
import type { SegmentWrite } from './pending-write.js';
import type { Counters } from './stats.js';
import type { WritebackAhead } from './writeback.js';
import type { ZeroFiller } from './zero-fill.js';

const { EIO, EOPNOTSUPP } = Errno;
/** Files opened ahead for the next segment: `spare-<hex>.tmp` (recovery removes leftovers). */
export const SPARE_FILE_PREFIX = 'spare-';

export interface SegmentInfo {
  path: string;
  firstLsn: bigint;
  /** LSN of the last record written to it, null when it holds none. */
  lastLsn: bigint | null;
  /** Size of the file on disk (a preallocated segment is larger than its data). */
  sizeBytes: number;
  /**
   * The file's first bytes that hold whole frames written to the OS, header included: a
   * reader may read this far while the segment is still being written (bytes past it may be
   * in flight), and the log never cuts the file below it.
   */
  writtenBytes: number;
  sealed: boolean;
  encrypted: boolean;
  keyId: number;
  /** Its header's `compressed` flag: its frames may hold compressed bodies. */
  compressed: boolean;
}

export interface TruncateResult {
  segmentsDeleted: number;
  bytesReclaimed: number;
}

/** What the segment set asks of the log around it. */
export interface SegmentSetHost {
  /** The writes for `seg` not yet in the completed prefix. */
  writesOf(seg: Segment): SegmentWrite[];
  /** The writes queued for `seg` may go out (its file is open). */
  submitQueued(seg: Segment): void;
  /** The error the log is poisoned with, or null. */
  poisoned(): WalError | null;
  /** Poisons the log (unless it is already) and returns the error it now throws. */
  poison(err: unknown): WalError;
  /** Creating `seg` failed for lack of space: roll back from its first record. */
  noSpace(seg: Segment, offset: number, lostFrom: bigint, err: unknown): void;
  /** The error a waiter gets when a segment could not be created (a rollback's, if any). */
  creationError(): WalError | null;
  closed(): boolean;
  /** True while a sync round runs: files must stay open for its fdatasync. */
  syncing(): boolean;
  /** The segment ending at `lastLsn` was made durable and sealed. */
  sealed(lastLsn: bigint): void;
  /** `seg`'s file has its name: the writes into it outlive a crash of the process. */
  named(seg: Segment): void;
}

/**
 * The segment files, oldest first (the last is the active one): planning, creating
 * (under a tmp name, renamed once its predecessor is sealed), sealing, abandoning,
 * preallocating, truncating and listing them, and the spare file a rollover writes into.
 */
export class SegmentSet {
  /** Oldest first; the last one is the active segment. */
  list: Segment[];
  /** Records below this LSN were truncated on purpose. */
  floorLsn: bigint;

  private readonly io: StorageIo;
  private readonly host: SegmentSetHost;
  private readonly counters: Counters;
  private readonly zeroFill: ZeroFiller | null;
  private readonly writeback: WritebackAhead | null;
  private readonly dir: string;
  /** The log's time and id, stamped into every segment it plans. */
  readonly clock: LogClock;
  /** How the segments it plans compress their frames (undefined: they do not). */
  readonly compression: Compression | undefined;
  private readonly preallocateTo: number | null;
  private readonly direct: boolean;
  private creationChain: Promise<void> = Promise.resolve();
  private fdsToClose: number[] = [];
  /**
   * A file opened ahead of time for the next segment (buffered writes only), so that a
   * rollover can write into it at once: opening one needs the event loop, which an append
   * loop that never yields does not give back (docs/decisions/0330-segmented-wal-seams.md).
   */
  private spare: { fd: number; path: string } | null = null;
  private spareJob: Promise<void> | null = null;

  constructor(options: {
    io: StorageIo;
    host: SegmentSetHost;
    counters: Counters;
    zeroFill: ZeroFiller | null;
    writeback: WritebackAhead | null;
    dir: string;
    /** fallocate new segments to this size (config.preallocate), or null. */
    preallocateTo: number | null;
    direct: boolean;
    segments: Segment[];
    floorLsn: bigint;
    clock: LogClock;
    compression: Compression | undefined;
  }) {
    this.clock = options.clock;
    this.compression = options.compression;
    this.io = options.io;
    this.host = options.host;
    this.counters = options.counters;
    this.zeroFill = options.zeroFill;
    this.writeback = options.writeback;
    this.dir = options.dir;
    this.preallocateTo = options.preallocateTo;
    this.direct = options.direct;
    this.list = options.segments;
    this.floorLsn = options.floorLsn;
  }

  active(): Segment {
    const seg = this.list[this.list.length - 1];
    if (seg === undefined) throw new Error('SegmentedWal: no active segment');
    return seg;
  }

  /** The segment that holds `lsn` (the last one starting at or below it). */
  holding(lsn: bigint): Segment | undefined {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const seg = this.list[i]!;
      if (seg.firstLsn <= lsn) return seg;
    }
    return undefined;
  }

  /**
   * Plans a segment starting at `firstLsn` as the active one, replacing the current one if
   * it is empty and starts there too. Returns it (not yet created).
   */
  plan(firstLsn: bigint, ring: KeyRing | undefined): Segment {
    const seg = plannedSegment(this.dir, firstLsn, ring, this.clock, this.compression);
    const last = this.list[this.list.length - 1];
    if (last !== undefined && !hasRecords(last) && last.firstLsn === seg.firstLsn) {
      seg.replaces = true;
      // A creation job still running cleans up its own file (it sees it was replaced).
      if (last.fd !== null && last.creating === null) {
        this.fdsToClose.push(last.fd);
        last.fd = null;
      }
      this.list[this.list.length - 1] = seg;
    } else {
      this.list.push(seg);
    }
    return seg;
  }

  /** Rolls over: `next` becomes the active segment and its creation starts, in the spare if one is open. */
  rollOver(next: Segment): void {
    this.list.push(next);
    this.startCreation(next, this.takeSpare(next));
    this.prepareSpare();
  }

  /**
   * Opens a spare file for the next rollover in the background, unless one is there or
   * coming. A submitted open, not a promise: a loop of appends that never yields to the
   * event loop still gets it, through the completions it reaps, before its next rollover.
   */
  prepareSpare(): void {
    if (this.direct || this.host.closed() || this.host.poisoned() !== null) return;
    if (this.spare !== null || this.spareJob !== null) return;
    const path = join(this.dir, `${SPARE_FILE_PREFIX}${randomBytes(8).toString('hex')}.tmp`);
    let token: number;
    try {
      token = this.io.submitOpen(path, { create: true, truncate: true, mode: 0o600 });
    } catch {
      return; // The StorageIo is closing: no rollover needs a spare any more.
    }
    this.spareJob = new Promise<void>((resolve) => {
      this.io.onCompletion(token, ({ result: fd }) => {
        if (fd < 0 || !this.host.closed()) {
          // Without a spare (it failed to open), a rollover opens its file as it always did.
          if (fd >= 0) this.spare = { fd, path };
          this.spareJob = null;
          resolve();
          return;
        }
        this.discardSpare(fd, path).finally(() => {
          this.spareJob = null;
          resolve();
        });
      });
    });
  }

  /** Closes and removes a spare no rollover will use (at close, or opened after it). */
  private async discardSpare(fd: number, path: string): Promise<void> {
    try {
      await this.io.close(fd);
      await this.io.unlink(path);
    } catch {
      // Disposable: the next writer's recovery removes a spare left behind.
    }
  }

  /** True while a spare file was asked for and its completion not taken in yet. */
  get spareComing(): boolean {
    return this.spareJob !== null;
  }

  /** Resolves once the spare file being opened (if any) is there. */
  async spareReady(): Promise<void> {
    await this.spareJob;
  }

  /**
   * Hands the spare file, if any, to a segment being created: its header is submitted now,
   * so the frames that follow go out at once, without waiting for the event loop.
   */
  private takeSpare(seg: Segment): Promise<IoCompletion> | null {
    const spare = this.spare;
    if (spare === null) return null;
    this.spare = null;
    seg.fd = spare.fd;
    seg.tmpPath = spare.path;
    seg.status = 'unnamed';
    const header = this.io.completion(this.io.submitWrite(spare.fd, seg.headerBytes, 0));
    header.catch(() => {});
    return header;
  }

  /**
   * Starts the job that creates a planned segment. Its file is opened (under the tmp name)
   * at once, so writes for it never wait for the previous segment's fdatasync; only the
   * rename waits, behind the job of the segment before it.
   */
  startCreation(seg: Segment, header: Promise<IoCompletion> | null = null): void {
    if (seg.creating !== null || (seg.status !== 'pending' && header === null)) return;
    const previous = this.creationChain;
    const job = this.create(seg, previous, header);
    seg.creating = job;
    // Over only when every earlier job is over too: a job that fails before it awaits
    // `previous` (a spare file's header refused for want of space) must not let the next
    // one find its predecessor still being created, and give up on it for good.
    this.creationChain = Promise.allSettled([previous, job]).then(() => {});
  }

  /** Resolves once no segment creation runs. */
  async creationsDone(): Promise<void> {
    await this.creationChain;
  }

  /**
   * Creates a planned segment: writes it as `<name>.tmp` (header, optional preallocation)
   * and lets the queued and all later writes for it go out; then, once the job of the
   * segment before it is done, makes the previous segment durable (so a crash can never
   * leave a newer segment after an older one's lost tail), fsyncs the new file, renames it
   * into place, fsyncs the directory and records it in HEAD (0322). Only then is the
   * segment `ready`: a sync round for a record in it waits for this job
   * (docs/decisions/0306-rollover-off-the-append-path.md).
   */
  private async create(
    seg: Segment,
    previous: Promise<void>,
    spareHeader: Promise<IoCompletion> | null,
  ): Promise<void> {
    if (!this.list.includes(seg)) return;
    if (spareHeader === null && seg.status !== 'pending') return;
    const io = this.io;
    let renamed = false;
    try {
      let fd: number;
      if (spareHeader !== null) {
        // Written into a spare file: its header went out with the rollover, frames follow it.
        fd = seg.fd!;
        const c = await spareHeader;
        if (c.result !== seg.headerBytes.length) {
          throw ioErrorFromErrno(
            c.result < 0 ? c.result : EIO,
            'write (segment header)',
            seg.tmpPath,
          );
        }
      } else {
        // A replacement has the same tmp name as the file it replaces, whose job may run.
        if (seg.replaces) await previous;
        if (this.host.poisoned() !== null || !this.list.includes(seg)) return;
        const direct = this.direct;
        fd = await io.open(seg.tmpPath, { create: true, truncate: true, mode: 0o600, direct });
        seg.fd = fd;
        // Frames wait for the header: with direct I/O the first of them rewrite its block.
        await io.write(fd, direct ? paddedToBlocks(seg.headerBytes) : seg.headerBytes, 0);
        seg.status = 'unnamed';
      }
      if (this.preallocateTo !== null) await this.preallocate(fd, this.preallocateTo);
      if (this.host.poisoned() === null && this.list.includes(seg)) this.host.submitQueued(seg);
      await previous;
      if (!(await this.sealPredecessor(seg))) {
        await this.abandon(seg);
        return;
      }
      await io.fsync(fd);
      if (this.host.poisoned() !== null || !this.list.includes(seg)) {
        await this.abandon(seg);
        return;
      }
      renamed = true;
      await io.rename(seg.tmpPath, seg.path);
      await io.syncDirectory(this.dir);
      // Before any record in it can be durable: from now on its loss is found at open.
      await recordHead(io, this.dir, seg.firstLsn);
      this.counters.segmentsCreated++;
      seg.status = 'ready';
      seg.replaces = false;
      this.host.named(seg);
      if (!this.list.includes(seg)) {
        // Replaced (setEncryptionRing) while it was being created: the replacement renames over it.
        this.fdsToClose.push(fd);
        seg.fd = null;
        this.closeIdleFds();
        return;
      }
      if (this.host.closed() || this.host.poisoned() !== null) return;
      this.zeroFill?.maybeStart(seg);
    } catch (err) {
      if (!renamed && isWalError(err, WalErrorCode.NO_SPACE) && this.host.poisoned() === null) {
        this.host.noSpace(seg, FILE_HEADER_SIZE, seg.firstLsn, err);
        await this.abandon(seg);
      } else {
        this.host.poison(err);
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
  private async sealPredecessor(seg: Segment): Promise<boolean> {
    const index = this.list.indexOf(seg);
    const prev = index > 0 ? this.list[index - 1]! : undefined;
    if (this.host.poisoned() !== null || index < 0) return false;
    if (prev === undefined || prev.status === 'sealed') return true;
    if (prev.status !== 'ready' || prev.fd === null) return false;
    const earlier = this.host.writesOf(prev);
    await Promise.all(earlier.map((w) => w.settled));
    if (earlier.some((w) => w.status !== 'done') || this.host.poisoned() !== null) return false;
    // No fill starts on a segment that is no longer the active one; let a running one end.
    await this.zeroFill?.idle();
    const sealed = syncBeside(
      prev,
      this.io.datasync(prev.fd).then(
        () => true,
        (err: unknown) => {
          this.host.poison(err);
          return false;
        },
      ),
    );
    if (!(await sealed)) return false;
    this.counters.syncs++;
    prev.status = 'sealed';
    prev.frames = null;
    this.fdsToClose.push(prev.fd);
    prev.fd = null;
    this.closeIdleFds();
    this.host.sealed(prev.lastLsn);
    return true;
  }

  /**
   * Gives up a segment that was never renamed: once its writes have settled, its tmp file
   * is closed and removed and it is `pending` again (a rollback cuts it or plans it anew).
   */
  private async abandon(seg: Segment): Promise<void> {
    await Promise.all(this.host.writesOf(seg).map((w) => w.settled));
    await this.writeback?.idle();
    const fd = seg.fd;
    seg.fd = null;
    seg.status = 'pending';
    if (fd !== null) await this.io.close(fd).catch(() => {});
    await this.io.unlink(seg.tmpPath).catch(() => {});
  }

  private async preallocate(fd: number, size: number): Promise<void> {
    try {
      await this.io.fallocate(fd, 0, size);
      this.counters.preallocation = true;
    } catch (err) {
      if (isWalError(err) && err.details.errno === EOPNOTSUPP) {
        this.counters.preallocation = false;
        return;
      }
      throw err;
    }
  }

  /**
   * Waits until a segment's file is renamed into place (and its predecessor sealed); a
   * record in it is not durable before that, whatever fdatasync says.
   */
  async named(seg: Segment): Promise<void> {
    if (isNamed(seg)) return;
    while (seg.creating !== null) await seg.creating;
    const poisoned = this.host.poisoned();
    if (poisoned !== null) throw poisoned;
    if (!isNamed(seg)) {
      throw (
        this.host.creationError() ??
        new WalError(
          WalErrorCode.IO,
          `segment ${seg.path} could not be created; see the log's earlier errors`,
        )
      );
    }
  }

  /** Closes `fd` once nothing uses it any more. */
  retire(fd: number): void {
    this.fdsToClose.push(fd);
  }

  /** Closes the files of sealed and dropped segments, unless a sync round or writeback needs them. */
  closeIdleFds(): void {
    if (this.host.syncing() || this.fdsToClose.length === 0 || this.writeback?.busy) return;
    const fds = this.fdsToClose;
    this.fdsToClose = [];
    for (const fd of fds) this.io.close(fd).catch(() => {});
  }

  /** A rollback cuts in `seg`: the segments after it are dropped. */
  dropAfter(seg: Segment): void {
    const index = this.list.indexOf(seg);
    for (const later of this.list.splice(index + 1)) {
      if (later.fd !== null) this.fdsToClose.push(later.fd);
    }
  }

  /**
   * Deletes sealed segments wholly below `checkpointLsn`, oldest first. The new floor is
   * written (atomically) before anything is deleted, so a crash in between only leaves
   * extra files that the next open removes; on a device too full for that, see
   * `recordFloorBeforeDeleting`.
   */
  async deleteBefore(checkpointLsn: bigint): Promise<TruncateResult> {
    const segs = this.list;
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
      const recorded = await recordFloorBeforeDeleting(this.io, this.dir, newFloor);
      this.floorLsn = newFloor;
      let bytes = 0;
      for (const seg of doomed) {
        bytes += (await this.io.stat(seg.path))?.size ?? 0;
        await this.io.unlink(seg.path);
        const at = this.list.indexOf(seg);
        if (at >= 0) this.list.splice(at, 1);
      }
      await this.io.syncDirectory(this.dir);
      if (!recorded) await writeFloorIfSpace(this.io, this.dir, newFloor);
      return { segmentsDeleted: doomed.length, bytesReclaimed: bytes };
    } catch (err) {
      // A failed fsync of the directory or the floor cannot be retried safely.
      throw this.host.poison(err);
    }
  }

  /** The segments on disk, oldest first. */
  async describe(): Promise<SegmentInfo[]> {
    const out: SegmentInfo[] = [];
    const segs = this.list.filter(isNamed);
    for (const seg of segs) {
      const st = await this.io.stat(seg.path);
      if (st === null) continue;
      out.push(
        jsonReady({
          path: seg.path,
          firstLsn: seg.firstLsn,
          lastLsn: seg.writtenLsn >= seg.firstLsn ? seg.writtenLsn : null,
          sizeBytes: st.size,
          writtenBytes: seg.completedEnd,
          sealed: seg.status === 'sealed' && seg !== this.list[this.list.length - 1],
          encrypted: seg.header.cipher !== 'none',
          keyId: seg.header.keyId,
          compressed: seg.header.compressed,
        }),
      );
    }
    return out;
  }

  /** At close: every file is closed and the spare removed. */
  async closeFiles(): Promise<void> {
    for (const seg of this.list) {
      if (seg.fd !== null) {
        this.fdsToClose.push(seg.fd);
        seg.fd = null;
      }
    }
    await this.spareJob;
    const spare = this.spare;
    this.spare = null;
    if (spare !== null) await this.discardSpare(spare.fd, spare.path);
    const fds = this.fdsToClose;
    this.fdsToClose = [];
    for (const fd of fds) await this.io.close(fd).catch(() => {});
  }
}
