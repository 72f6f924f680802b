import { codecAddon } from '../crc/crc32c.js';
import { WalError, WalErrorCode } from '../errors/errors.js';
import type { CodecAddon, WalkAheadHandle } from '../native/codec-addon.js';
import { checkWalkArgs } from './frame-run.js';

/**
 * `walkFrames` on a thread of its own, so that the next run of frames is verified while the
 * caller hands out the run before (decision 0408): `start` queues a walk, `finish` waits for
 * it and returns what `walkFrames` would have. One walk at a time. Until `finish`, the
 * buffer and the table belong to the thread: write to neither. Only with the codec's addon
 * (`create()` is null without it). `close()` ends the thread; a walker the garbage collector
 * takes ends it too.
 */
export class FrameWalkAhead {
  private queued = false;
  private closed = false;

  private constructor(
    private readonly addon: CodecAddon,
    private readonly handle: WalkAheadHandle,
  ) {}

  /** A walker, or null when the addon did not load (walk with `walkFrames`). */
  static create(): FrameWalkAhead | null {
    return codecAddon === null
      ? null
      : new FrameWalkAhead(codecAddon, codecAddon.walkAheadCreate());
  }

  /** A walk was started and not finished yet. */
  get isQueued(): boolean {
    return this.queued;
  }

  /**
   * Queues the walk `walkFrames(buf, start, end, maxFrameBody, status, table)` would make;
   * false when no thread could be started (then nothing is queued: walk with `walkFrames`).
   */
  start(
    buf: Uint8Array,
    start: number,
    end: number,
    maxFrameBody: number,
    table: Uint32Array,
  ): boolean {
    checkWalkArgs(buf, start, end, maxFrameBody, table);
    if (this.closed) throw WalError.closed('the frame walker');
    if (this.queued)
      throw new WalError(WalErrorCode.BAD_STATE, 'a walk is queued already: finish() it first');
    this.queued = this.addon.walkAheadStart(this.handle, buf, start, end, maxFrameBody, table);
    return this.queued;
  }

  /** Waits for the queued walk: its frame count, and `status` as `walkFrames` sets it. */
  finish(status: Float64Array): number {
    if (!this.queued) throw new WalError(WalErrorCode.BAD_STATE, 'no walk is queued: start() one');
    this.queued = false;
    return this.addon.walkAheadFinish(this.handle, status);
  }

  /** Waits for a queued walk, drops its result and ends the thread. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queued = false;
    this.addon.walkAheadClose(this.handle);
  }
}
