import { type IoCompletion, ioErrorFromErrno, isNoSpace, type StorageIo } from '@walnut/storage-io';
import { type Segment, syncBeside } from '../files/segment.js';

const PAGE = 4096;
/**
 * Bytes zero-filled by one background job (one write + one fdatasync). Small, because an
 * fdatasync of the data that runs while a fill's zeros are dirty writes them back too.
 */
export const ZERO_FILL_CHUNK = 256 * 1024;

export interface ZeroFillStats {
  /** 'off' (not configured), 'on', or 'stopped' (the disk filled up; appends go on without it). */
  state: 'off' | 'on' | 'stopped';
  /** Background fills completed (each one write of zeros + one fdatasync). */
  fills: number;
  /** Zero bytes written ahead of the writer. */
  bytes: number;
  /** Data writes that had to wait for a fill (the writer outran it: zeroFillAhead is small for this load). */
  heldWrites: number;
}

interface RunningFill {
  readonly seg: Segment;
  readonly start: number;
  readonly end: number;
  readonly done: Promise<void>;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * Keeps the part of the active segment just past the writer allocated and filled with
 * zeros, made durable by its own fdatasync, so that the fdatasync after a small append
 * overwrites allocated blocks and has no file-system metadata to commit (see
 * docs/decisions/0305-zero-fill-ahead.md). Zeros past the data read as end of log, so a
 * crash at any point leaves a log that recovers as before.
 *
 * One fill runs at a time. A data write must never overlap a running fill (the zeros could
 * land after the data): `mustHold` tells the writer to hold such a write until `onIdle`.
 */
export class ZeroFiller {
  private readonly io: StorageIo;
  private readonly ahead: number;
  /** No zeros past this offset: a segment rolls over around its target size. */
  private readonly limit: number;
  private readonly onIdle: (seg: Segment) => void;
  private readonly onFatal: (err: unknown) => void;
  private readonly allocate: (size: number) => Buffer;
  private zeros: Buffer | null = null;
  private running: RunningFill | null = null;
  private readonly counters: ZeroFillStats = { state: 'on', fills: 0, bytes: 0, heldWrites: 0 };

  constructor(options: {
    io: StorageIo;
    ahead: number;
    segmentTargetSize: number;
    /** Called after each fill of `seg`, when the writes it held may go out. */
    onIdle: (seg: Segment) => void;
    /** A fill's fdatasync failed: the file's error state is consumed, so the log must stop. */
    onFatal: (err: unknown) => void;
    /** Allocates the zeros (aligned memory for files written with O_DIRECT). Default Buffer.alloc. */
    allocate?: (size: number) => Buffer;
  }) {
    this.allocate = options.allocate ?? Buffer.alloc;
    this.io = options.io;
    this.ahead = roundUp(options.ahead, PAGE);
    this.limit = roundUp(options.segmentTargetSize, PAGE);
    this.onIdle = options.onIdle;
    this.onFatal = options.onFatal;
  }

  stats(): ZeroFillStats {
    return { ...this.counters };
  }

  /** Whether a data write into `seg` ending at `end` would overlap the running fill. */
  blocks(seg: Segment, end: number): boolean {
    const running = this.running;
    return running !== null && running.seg === seg && end > running.start;
  }

  /** `blocks`, counting the write as held (the writer holds it until `onIdle`). */
  mustHold(seg: Segment, end: number): boolean {
    if (!this.blocks(seg, end)) return false;
    this.counters.heldWrites++;
    return true;
  }

  /** Resolves once no fill runs. */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running.done;
  }

  /** Starts a fill of `seg` when fewer than `ahead` zeroed bytes lie past its assigned end. */
  maybeStart(seg: Segment): void {
    if (this.running !== null || this.counters.state !== 'on') return;
    if (seg.status !== 'ready' || seg.fd === null) return;
    const start = Math.max(seg.zeroedEnd, roundUp(seg.assignedEnd, PAGE));
    if (start - seg.assignedEnd >= this.ahead) return;
    const end = Math.min(start + Math.min(ZERO_FILL_CHUNK, this.ahead), this.limit);
    if (end <= start) return;
    this.zeros ??= this.allocate(Math.min(ZERO_FILL_CHUNK, this.ahead));
    let write: Promise<IoCompletion>;
    let sync: Promise<IoCompletion>;
    try {
      const writeToken = this.io.submitWrite(seg.fd, this.zeros.subarray(0, end - start), start);
      const syncToken = this.io.submitDatasync(seg.fd, { linkToPrevious: true });
      this.io.flush();
      write = this.io.completion(writeToken);
      sync = this.io.completion(syncToken);
    } catch {
      // The StorageIo refused (closed under us); the writer learns it from its own writes.
      this.counters.state = 'stopped';
      return;
    }
    const done = syncBeside(
      seg,
      Promise.all([write, sync]).then(
        ([w, s]) => this.finish(seg, start, end, w, s),
        (err) => this.fail(seg, err),
      ),
    );
    this.running = { seg, start, end, done };
  }

  private finish(seg: Segment, start: number, end: number, w: IoCompletion, s: IoCompletion): void {
    this.running = null;
    if (w.result < 0 && isNoSpace(w.result)) {
      // Zeros hold no data: a full disk stops the filling, not the log.
      this.counters.state = 'stopped';
    } else if (w.result < 0) {
      this.fail(seg, ioErrorFromErrno(-w.result, 'write (zero fill)', seg.path));
      return;
    } else if (w.result < end - start) {
      this.counters.state = 'stopped';
    } else if (s.result < 0) {
      this.fail(seg, ioErrorFromErrno(-s.result, 'fdatasync (zero fill)', seg.path));
      return;
    } else {
      seg.zeroedEnd = Math.max(seg.zeroedEnd, end);
      this.counters.fills++;
      this.counters.bytes += end - start;
    }
    this.onIdle(seg);
  }

  private fail(seg: Segment, err: unknown): void {
    this.running = null;
    this.counters.state = 'stopped';
    this.onFatal(err);
    this.onIdle(seg);
  }
}
