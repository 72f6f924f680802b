import { isDsyncWrite, type QueuedOp } from '../contract/base-storage-io.js';
import { submitQueued } from '../contract/submit-queued.js';
import type {
  IoCompletion,
  IoFd,
  IoOp,
  OpenOptions,
  StorageIo,
  StorageIoDescription,
  SubmitOptions,
} from '../contract/types.js';
import {
  type FileCall,
  type FileCallTarget,
  WrappingStorageIo,
} from '../contract/wrapping-storage-io.js';

export type { FileCall } from '../contract/wrapping-storage-io.js';

/** One submission or file call, as the recording StorageIo saw it. */
export interface RecordedOp {
  readonly kind: IoOp | FileCall;
  /** 1 for the first operation of its kind, 2 for the second… (`write` and `writev` apart). */
  readonly nth: number;
  /** The submission's token; undefined for file calls. */
  readonly token: number | undefined;
  /** The descriptor it works on, if any (for `open`: the one it returned). */
  fd: IoFd | undefined;
  /** The call's path, or the path `fd` was opened under. */
  readonly path: string | undefined;
  /** The new name of a `rename`. */
  readonly to: string | undefined;
  /** The options of an `open`. */
  readonly options: OpenOptions | undefined;
  /** File offset of a write, read, fallocate or writeback (else 0). */
  readonly offset: number;
  /** Bytes asked for (0 for syncs and file calls). */
  readonly length: number;
  /** Submitted with `linkToPrevious`. */
  readonly link: boolean;
  /** A write or writev submitted with `dsync` (durable on completion). */
  readonly dsync: boolean;
  /** Which flush handed it over (an index into `flushes`); undefined before, and for file calls. */
  flush: number | undefined;
  /** True once its completion (or the call's outcome) reached the caller. */
  done: boolean;
  /** A submission's result (bytes, 0 or -errno) once done. */
  result: number | undefined;
  /** What a failed file call threw. */
  error: unknown;
}

/** Completions (and file-call outcomes) held back until `release()`. */
export interface Hold {
  /** How many operations this hold has held back so far. */
  readonly held: number;
  /** Delivers what it holds, in arrival order, and holds nothing more. */
  release(): void;
}

/** Thrown (and kept in `violations`) when two writes to overlapping bytes of a file would be in flight at once. */
export class OverlappingWritesError extends Error {
  override readonly name = 'OverlappingWritesError';
  constructor(
    message: string,
    readonly write: RecordedOp,
    readonly inFlight: RecordedOp,
  ) {
    super(message);
  }
}

export interface RecordingOptions {
  /**
   * Refuse a write to bytes that another write of the same file still in flight covers
   * (default true): the kernel gives no order between them, so what the file holds
   * afterwards is either's bytes. A write linked (through `linkToPrevious`) behind the
   * earlier one is ordered and allowed.
   */
  readonly assertNoOverlappingWrites?: boolean;
}

interface InFlightWrite {
  readonly op: RecordedOp;
  readonly chain: number;
}

interface ActiveHold {
  readonly match: (op: RecordedOp) => boolean;
  readonly queue: (() => void)[];
  count: number;
  active: boolean;
}

interface Refusal {
  readonly match: (op: RecordedOp) => boolean;
  readonly error: () => Error;
  readonly once: boolean;
}

/**
 * A StorageIo for tests that wraps another one (memory, sync-fs, io_uring, faulty…) and
 * records every submission and file call (`ops`) and what each flush handed over
 * (`flushes`); can hold completions back (`hold`) or refuse operations (`refuse`); and
 * asserts, as TigerBeetle's simulated storage does, that no two writes to overlapping
 * bytes of one file are in flight at once. A write that would be is refused: the submit
 * call throws an `OverlappingWritesError`, which `violations` also keeps, so that code
 * catching the throw cannot hide it from a test that checks `violations`.
 *
 * A write is in flight from its submission until its completion reaches the caller (a
 * held completion keeps it in flight: the caller cannot know it finished).
 */
export class RecordingStorageIo extends WrappingStorageIo {
  /** Every submission and file call, in call order. */
  readonly ops: RecordedOp[] = [];
  /** What each `flush()` handed to the inner backend, in order. */
  readonly flushes: RecordedOp[][] = [];
  /** Every overlapping write refused so far. */
  readonly violations: OverlappingWritesError[] = [];
  /** The most writes (write and writev) that were in flight at once. */
  peakWritesInFlight = 0;
  private readonly checkOverlaps: boolean;
  private readonly paths = new Map<IoFd, string>();
  private readonly byToken = new Map<number, RecordedOp>();
  private readonly writesInFlight = new Map<number, InFlightWrite>();
  private readonly counts = new Map<IoOp | FileCall, number>();
  private readonly holds: ActiveHold[] = [];
  private readonly refusals: Refusal[] = [];
  private readonly pending = new Set<Promise<void>>();
  /** The link chain the last submission belongs to (a new one unless it was linked). */
  private chain = 0;
  private chains = 0;

  constructor(inner: StorageIo, options: RecordingOptions = {}) {
    super(inner, 'recording');
    this.checkOverlaps = options.assertNoOverlappingWrites !== false;
  }

  /**
   * From now on, completions of submissions (and outcomes of file calls) that `match` are
   * held back until the returned hold is released; the operations themselves run. Without
   * `match`, everything is held.
   */
  hold(match: (op: RecordedOp) => boolean = () => true): Hold {
    const hold: ActiveHold = { match, queue: [], count: 0, active: true };
    this.holds.push(hold);
    return {
      get held() {
        return hold.count;
      },
      release: () => {
        hold.active = false;
        this.holds.splice(this.holds.indexOf(hold), 1);
        for (const deliver of hold.queue.splice(0)) deliver();
      },
    };
  }

  /**
   * Operations that `match` throw `error()` when called (a submission throws from its
   * `submit*` call, a file call rejects) and never reach the inner backend; with `once`
   * (the default), only the next one.
   */
  refuse(match: (op: RecordedOp) => boolean, error: () => Error, options: { once?: boolean } = {}) {
    this.refusals.push({ match, error, once: options.once !== false });
  }

  override submitOpen(path: string, options: OpenOptions = {}) {
    return this.submitted('open', -1, 0, 0, undefined, () => super.submitOpen(path, options), {
      path,
      options,
    });
  }

  override submitWrite(fd: IoFd, data: Uint8Array, offset: number, options?: SubmitOptions) {
    return this.submitted('write', fd, offset, data.length, options, () =>
      super.submitWrite(fd, data, offset, options),
    );
  }

  override submitWritev(
    fd: IoFd,
    buffers: readonly Uint8Array[],
    offset: number,
    options?: SubmitOptions,
  ) {
    let length = 0;
    for (const buffer of buffers) length += buffer.length;
    return this.submitted('writev', fd, offset, length, options, () =>
      super.submitWritev(fd, buffers, offset, options),
    );
  }

  override submitRead(fd: IoFd, into: Uint8Array, offset: number, options?: SubmitOptions) {
    return this.submitted('read', fd, offset, into.length, options, () =>
      super.submitRead(fd, into, offset, options),
    );
  }

  override submitDatasync(fd: IoFd, options?: SubmitOptions) {
    return this.submitted('fdatasync', fd, 0, 0, options, () => super.submitDatasync(fd, options));
  }

  override submitFsync(fd: IoFd, options?: SubmitOptions) {
    return this.submitted('fsync', fd, 0, 0, options, () => super.submitFsync(fd, options));
  }

  override submitFallocate(fd: IoFd, offset: number, length: number, options?: SubmitOptions) {
    return this.submitted('fallocate', fd, offset, length, options, () =>
      super.submitFallocate(fd, offset, length, options),
    );
  }

  override submitWriteback(fd: IoFd, offset: number, length: number, options?: SubmitOptions) {
    return this.submitted('writeback', fd, offset, length, options, () =>
      super.submitWriteback(fd, offset, length, options),
    );
  }

  /** Records a submission, checks it against the writes in flight, then enqueues it. */
  private submitted(
    kind: IoOp,
    fd: IoFd,
    offset: number,
    length: number,
    options: SubmitOptions | undefined,
    enqueue: () => number,
    opening?: { path: string; options: OpenOptions },
  ): number {
    const link = options?.linkToPrevious === true;
    const path = opening?.path ?? this.paths.get(fd);
    const probe = this.record(kind, {
      fd: opening === undefined ? fd : undefined,
      path,
      options: opening?.options,
      offset,
      length,
      link,
      dsync: isDsyncWrite(kind, options),
    });
    this.refuseIfAsked(probe);
    const chain = link ? this.chain : ++this.chains;
    if (this.checkOverlaps && (kind === 'write' || kind === 'writev')) {
      this.assertNoOverlap(probe, chain);
    }
    const token = enqueue();
    const op: RecordedOp = { ...probe, token };
    this.counted(op);
    this.ops.push(op);
    this.byToken.set(token, op);
    this.chain = chain;
    if (kind === 'write' || kind === 'writev') {
      this.writesInFlight.set(token, { op, chain });
      this.peakWritesInFlight = Math.max(this.peakWritesInFlight, this.writesInFlight.size);
    }
    return token;
  }

  private assertNoOverlap(write: RecordedOp, chain: number): void {
    const end = write.offset + write.length;
    for (const other of this.writesInFlight.values()) {
      if (other.op.fd !== write.fd || other.chain === chain) continue;
      const otherEnd = other.op.offset + other.op.length;
      if (other.op.offset < end && write.offset < otherEnd) {
        const file = write.path ?? `fd ${write.fd}`;
        const error = new OverlappingWritesError(
          `overlapping writes in flight on ${file}: a ${write.kind} of bytes [${write.offset}, ${end}) was submitted while ${other.op.kind} #${other.op.nth} (token ${other.op.token}) of bytes [${other.op.offset}, ${otherEnd}) had not completed; the kernel does not order them, so either one's bytes may win. Wait for the first completion, or link the second write behind it.`,
          write,
          other.op,
        );
        this.violations.push(error);
        throw error;
      }
    }
  }

  protected dispatch(ops: QueuedOp[]): void {
    const batch: RecordedOp[] = [];
    const index = this.flushes.length;
    for (const queued of ops) {
      const op = this.byToken.get(queued.token)!;
      op.flush = index;
      batch.push(op);
      const innerToken = submitQueued(this.inner, queued);
      const settled = new Promise<void>((resolve) => {
        this.inner.onCompletion(innerToken, (completion: IoCompletion) => {
          this.pending.delete(settled);
          this.complete(op, () => {
            this.finish(queued, completion.result);
          });
          resolve();
        });
      });
      this.pending.add(settled);
    }
    this.flushes.push(batch);
    this.inner.flush();
  }

  private finish(queued: QueuedOp, result: number): void {
    const op = this.byToken.get(queued.token)!;
    this.byToken.delete(queued.token);
    this.writesInFlight.delete(queued.token);
    op.done = true;
    op.result = result;
    if (queued.open !== undefined && result >= 0) {
      op.fd = result;
      this.paths.set(result, queued.open.path);
    }
    this.deliver(queued.token, queued.op, queued.fd, queued.requested, result);
  }

  /** Runs `deliver` now, or later when a hold matches `op`. */
  private complete(op: RecordedOp, deliver: () => void): void {
    for (const hold of this.holds) {
      if (hold.active && hold.match(op)) {
        hold.count++;
        hold.queue.push(deliver);
        return;
      }
    }
    deliver();
  }

  protected override reap(): void {
    this.inner.reapCompletions();
  }

  protected async drainOnClose(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
  }

  private record(
    kind: IoOp | FileCall,
    fields: Partial<
      Pick<RecordedOp, 'fd' | 'path' | 'to' | 'options' | 'offset' | 'length' | 'link' | 'dsync'>
    >,
  ): RecordedOp {
    return {
      kind,
      nth: (this.counts.get(kind) ?? 0) + 1,
      token: undefined,
      fd: fields.fd,
      path: fields.path,
      to: fields.to,
      options: fields.options,
      offset: fields.offset ?? 0,
      length: fields.length ?? 0,
      link: fields.link ?? false,
      dsync: fields.dsync ?? false,
      flush: undefined,
      done: false,
      result: undefined,
      error: undefined,
    };
  }

  private counted(op: RecordedOp): void {
    this.counts.set(op.kind, op.nth);
  }

  private refuseIfAsked(op: RecordedOp): void {
    const index = this.refusals.findIndex((refusal) => refusal.match(op));
    if (index < 0) return;
    const refusal = this.refusals[index]!;
    if (refusal.once) this.refusals.splice(index, 1);
    throw refusal.error();
  }

  /** Records a file call, runs it on the inner backend, holds its outcome if asked. */
  protected override async fileCall<T>(
    kind: FileCall,
    fields: FileCallTarget,
    run: () => Promise<T>,
  ): Promise<T> {
    const op = this.record(kind, {
      ...fields,
      path: fields.path ?? (fields.fd === undefined ? undefined : this.paths.get(fields.fd)),
    });
    this.counted(op);
    this.ops.push(op);
    const outcome = await (async () => {
      this.refuseIfAsked(op);
      return run();
    })().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    await new Promise<void>((resolve) => this.complete(op, resolve));
    op.done = true;
    if (!outcome.ok) {
      op.error = outcome.error;
      throw outcome.error;
    }
    return outcome.value;
  }

  override async close(fd: IoFd): Promise<void> {
    await super.close(fd);
    this.paths.delete(fd);
  }

  describe(): StorageIoDescription {
    const inner = this.inner.describe();
    return {
      backend: `recording(${inner.backend})`,
      reason: `recording over ${inner.backend} (${inner.reason})`,
      details: { inner, ops: this.ops.length, violations: this.violations.length },
    };
  }
}
