import { Errno, type IoCompletion, type StorageIo } from '@walnut/storage-io';
import type { Segment } from '../files/segment.js';

const { EOPNOTSUPP } = Errno;

export interface WritebackStats {
  /**
   * 'off' (not configured), 'on', 'unsupported' (the backend cannot: -EOPNOTSUPP) or
   * 'stopped' (a writeback failed; the next fdatasync reports the write error, if any).
   */
  state: 'off' | 'on' | 'unsupported' | 'stopped';
  /** Ranges whose writeback was started. */
  ranges: number;
  /** Bytes in those ranges. */
  bytes: number;
}

/**
 * Starts the kernel's writeback of completed writes once `every` bytes of a segment are
 * written and neither written back nor covered by an fdatasync, so that a log appended in
 * bulk reaches the device while the writer goes on and the fdatasync that ends the bulk
 * has little left to write (docs/decisions/0308-writeback-ahead.md).
 *
 * A hint only: it makes nothing durable and orders nothing. A failed writeback stops the
 * hints but not the log — sync_file_range's write mode does not consume the file's error
 * state, so the next fdatasync still reports a failed write-back.
 */
export class WritebackAhead {
  private readonly io: StorageIo;
  private readonly every: number;
  private readonly onIdle: () => void;
  private inFlight = 0;
  private whenIdle: Promise<void> = Promise.resolve();
  private wake: () => void = () => {};
  private readonly counters: WritebackStats = { state: 'on', ranges: 0, bytes: 0 };

  constructor(options: {
    io: StorageIo;
    every: number;
    /** Called when the last writeback in flight completed (file descriptors may close). */
    onIdle: () => void;
  }) {
    this.io = options.io;
    this.every = options.every;
    this.onIdle = options.onIdle;
  }

  stats(): WritebackStats {
    return { ...this.counters };
  }

  /** True while a writeback is in flight: its file descriptor must stay open. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** Resolves once no writeback is in flight. */
  idle(): Promise<void> {
    return this.whenIdle;
  }

  /** After a write into `seg` completed: starts writeback of what has piled up, if enough has. */
  afterWrite(seg: Segment): void {
    if (this.counters.state !== 'on' || seg.fd === null) return;
    const from = seg.writebackEnd;
    const to = seg.completedEnd;
    if (to - from < this.every) return;
    let completion: Promise<IoCompletion>;
    try {
      const token = this.io.submitWriteback(seg.fd, from, to - from);
      this.io.flush();
      completion = this.io.completion(token);
    } catch {
      // The StorageIo refused (closed under us); the writer learns it from its own writes.
      this.counters.state = 'stopped';
      return;
    }
    seg.writebackEnd = to;
    if (this.inFlight++ === 0) this.whenIdle = new Promise((resolve) => (this.wake = resolve));
    completion.then(
      (c) => this.finish(c),
      () => this.finish(null),
    );
  }

  /** An fdatasync of `seg` covered it up to `end`: nothing before that needs a writeback. */
  covered(seg: Segment, end: number): void {
    if (end > seg.writebackEnd) seg.writebackEnd = end;
  }

  private finish(c: IoCompletion | null): void {
    if (c === null || c.result < 0) {
      if (this.counters.state === 'on') {
        this.counters.state = c?.result === -EOPNOTSUPP ? 'unsupported' : 'stopped';
      }
    } else {
      this.counters.ranges++;
      this.counters.bytes += c.requested;
    }
    if (--this.inFlight > 0) return;
    this.wake();
    this.onIdle();
  }
}
