import { addonNumber, badArgument, WalError, WalErrorCode } from '@walnut/codec';
import { BaseStorageIo, completedInFull, type QueuedOp } from '../contract/base-storage-io.js';
import { Errno, errnoName, ioErrorFromErrno } from '../contract/errors.js';
import type { FileHead, IoFd, StorageIoDescription } from '../contract/types.js';
import { lockScope } from '../locking/lock-file.js';
import { loadNative, type NativeRing } from '../native.js';
import {
  finishHead,
  headBuffers,
  openNow,
  openToRead,
  readHeadOn,
  withRealFiles,
} from './real-files.js';
import { ioUringRuntimeGate } from './runtime-gate.js';

/** Configuration of the io_uring backend. */
export interface IoUringConfig {
  /** SQ ring size (rounded up to a power of two by the kernel); default 256. */
  readonly entries?: number;
  /** A kernel thread polls the SQ (IORING_SETUP_SQPOLL): no syscall per submit, one busy core. */
  readonly sqpoll?: boolean;
  /** How long the SQPOLL thread spins idle before sleeping; default 50 ms. */
  readonly sqpollIdleMs?: number;
}

const MAX_ENTRIES = 32768;
const CONFIG_KEYS = ['entries', 'sqpoll', 'sqpollIdleMs'];
/** Named in earlier versions of this type and accepted without effect; now refused (0204). */
const UNSUPPORTED_KEYS: Record<string, string> = {
  registeredFiles: 'registered (fixed) files are not implemented',
  registeredBuffers: 'registered (fixed) buffers are not implemented',
};

/**
 * Checks an io_uring configuration whatever backend it ends up serving (an 'auto' that
 * falls back to sync-fs must not make a mistake pass): an option is used or refused,
 * never ignored.
 */
export function checkIoUringConfig(config: unknown): IoUringConfig {
  if (config === undefined) return {};
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    badArgument('ioUring', 'an object ({ entries?, sqpoll?, sqpollIdleMs? })', config);
  const c = config as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    const unsupported = UNSUPPORTED_KEYS[key];
    if (unsupported !== undefined) {
      throw new WalError(
        WalErrorCode.BAD_ARGUMENT,
        `ioUring.${key} is not supported: ${unsupported} (docs/decisions/0204: no gain was measured for Walnut's writes); remove it`,
      );
    }
    if (!CONFIG_KEYS.includes(key))
      badArgument(`ioUring.${key}`, `one of the known options (${CONFIG_KEYS.join(', ')})`, key);
  }
  if (
    c.entries !== undefined &&
    (!Number.isSafeInteger(c.entries) ||
      (c.entries as number) < 1 ||
      (c.entries as number) > MAX_ENTRIES)
  )
    badArgument('ioUring.entries', `an integer from 1 to ${MAX_ENTRIES}`, c.entries);
  if (c.sqpoll !== undefined && typeof c.sqpoll !== 'boolean')
    badArgument('ioUring.sqpoll', 'a boolean', c.sqpoll);
  if (
    c.sqpollIdleMs !== undefined &&
    (!Number.isSafeInteger(c.sqpollIdleMs) ||
      (c.sqpollIdleMs as number) < 0 ||
      (c.sqpollIdleMs as number) > 2 ** 31 - 1)
  )
    badArgument('ioUring.sqpollIdleMs', 'a non-negative integer (milliseconds)', c.sqpollIdleMs);
  return c as IoUringConfig;
}

/** Completions copied out of the CQ per hand-over: (token, result) pairs. */
const COMPLETION_BATCH = 1024;

/** What the previous submission of this instance became, for `linkToPrevious`. */
type Outcome = 'pending' | 'ok' | 'failed';

/**
 * How often one operation that the kernel cancelled by itself is sent again before its
 * -ECANCELED is delivered (docs/decisions/0206).
 */
const SPURIOUS_CANCEL_RETRIES = 8;

/** A kernel link chain being sent again: its operations, and how many are still to come back. */
interface Resend {
  readonly ops: QueuedOp[];
  awaiting: number;
}

/** An operation in the kernel. */
interface InKernel {
  readonly op: QueuedOp;
  /** The token of the next SQE in its kernel link chain (IOSQE_IO_LINK), 0 at its end. */
  readonly next: number;
  /**
   * What the SQE before it in its kernel link chain became ('ok' for a chain head), or
   * the resend that SQE joined after a cancellation the kernel made by itself.
   */
  before: 'pending' | 'ok' | 'failed' | Resend;
  /** Its -ECANCELED arrived before the completion of the SQE before it. */
  early: boolean;
}

/**
 * The native io_uring backend: submissions become SQEs (linked with IOSQE_IO_LINK where
 * asked), `flush()` is one io_uring_enter, and completions arrive on the libuv loop
 * through an eventfd registered with the ring and watched by uv_poll. Buffers of
 * in-flight operations are held by the addon until their CQE was reaped.
 */
export class IoUringStorageIo extends withRealFiles(BaseStorageIo) {
  readonly name = 'io_uring';
  readonly dsyncWrites = true;
  private readonly ring: NativeRing;
  private readonly completions: Float64Array;
  private readonly config: IoUringConfig;
  private readonly reason: string;
  /** Operations in the kernel, by token. */
  private readonly inKernel = new Map<number, InKernel>();
  /** Tokens the kernel cancelled by itself, and how often. */
  private readonly spuriousCancels = new Map<number, number>();
  /** Operations sent again after such a cancellation (describe() reports it). */
  private resentAfterKernelCancel = 0;
  /** Chains held back until the operation (token) they are linked behind completed. */
  private readonly waitingOn = new Map<number, QueuedOp[]>();
  private lastToken = 0;
  private lastOutcome: Outcome = 'ok';
  private idle: (() => void) | null = null;
  private ringClosed = false;

  private needsSubmit = false;
  /**
   * Fds opened with O_DIRECT: their writes are truly asynchronous in the kernel. Every
   * other write is buffered and goes straight to io-wq (IOSQE_ASYNC): ext4 has no
   * non-blocking buffered write, so the inline attempt would only fail with EAGAIN
   * (measured: 64 KiB writes at QD 8 3.7× faster; docs/decisions/0203).
   */
  private readonly directFds = new Set<IoFd>();

  private constructor(
    ring: NativeRing,
    completions: Float64Array,
    config: IoUringConfig,
    reason: string,
  ) {
    super();
    this.ring = ring;
    this.completions = completions;
    this.config = config;
    this.reason = reason;
  }

  /** Creates a ring, or throws WAL_BACKEND_UNAVAILABLE saying why it cannot. */
  static create(config: IoUringConfig = {}, reason = 'chosen explicitly'): IoUringStorageIo {
    const refused = ioUringRuntimeGate();
    if (refused !== null) throw unavailable(refused);
    const { binding, reason: loadReason } = loadNative();
    if (binding === null) throw unavailable(loadReason);
    checkIoUringConfig(config);
    const entries = config.entries ?? 256;
    let instance: IoUringStorageIo | undefined;
    let ring: NativeRing;
    const completions = new Float64Array(COMPLETION_BATCH * 2);
    // From the libuv loop: a delivery at the top of a call stack (onCompletion callbacks run at once).
    const onCompletions = (count: number) =>
      instance?.deliverAtTop(() => instance?.onCompletions(count));
    try {
      ring = binding.createRing({
        entries,
        sqpoll: config.sqpoll === true,
        sqpollIdleMs: config.sqpollIdleMs ?? 50,
        completions,
        onCompletions,
      });
    } catch (error) {
      throw unavailable(`creating a ring failed (${(error as Error).message})`, error);
    }
    instance = new IoUringStorageIo(ring, completions, config, reason);
    return instance;
  }

  protected dispatch(ops: QueuedOp[]): void {
    let start = 0;
    while (start < ops.length) {
      let end = start + 1;
      while (end < ops.length && ops[end]!.link) end++;
      this.dispatchChain(ops.slice(start, end));
      start = end;
    }
    this.submit();
  }

  /** A chain: its head may be linked behind the previous submission; the rest are linked. */
  private dispatchChain(chain: QueuedOp[]): void {
    const head = chain[0]!;
    if (head.op === 'open') {
      this.runOpen(head);
      if (chain.length > 1) this.dispatchChain(chain.slice(1));
      return;
    }
    if (head.link && this.lastOutcome !== 'ok') {
      if (this.lastOutcome === 'failed') {
        this.cancel(chain);
      } else {
        this.waitingOn.set(this.lastToken, chain);
      }
      this.lastToken = chain.at(-1)!.token;
      this.lastOutcome = this.lastOutcome === 'failed' ? 'failed' : 'pending';
      return;
    }
    this.prepChain(chain);
  }

  /**
   * Opens on the calling thread, as node:fs setup calls do, rather than as an io_uring
   * OPENAT that io-wq would run: it is one call per segment, and the descriptor is there
   * before anything else is submitted for it.
   */
  private runOpen(op: QueuedOp): void {
    const fd = openNow(op.open!);
    if (fd >= 0 && op.open!.options.direct) this.directFds.add(fd);
    else if (fd >= 0) this.directFds.delete(fd);
    this.lastToken = op.token;
    this.lastOutcome = fd >= 0 ? 'ok' : 'failed';
    this.deliver(op.token, op.op, op.fd, op.requested, fd);
  }

  /** Puts a chain into the SQ in one piece (a link never spans two io_uring_enter calls). */
  private prepChain(chain: QueuedOp[]): void {
    const capacity = this.ring.sqEntries;
    if (chain.length > this.ring.sqSpace) this.submit();
    const fits = Math.min(chain.length, capacity);
    for (let i = 0; i < fits; i++) {
      const op = chain[i]!;
      const linkNext = i + 1 < fits;
      this.prepOne(op, linkNext);
      this.inKernel.set(op.token, {
        op,
        next: linkNext ? chain[i + 1]!.token : 0,
        before: i === 0 ? 'ok' : 'pending',
        early: false,
      });
    }
    this.lastToken = chain[fits - 1]!.token;
    this.lastOutcome = 'pending';
    if (fits < chain.length) {
      // Longer than the whole SQ: the rest waits for the last SQE of this part.
      const rest = chain.slice(fits);
      this.waitingOn.set(this.lastToken, rest);
      this.lastToken = rest.at(-1)!.token;
    }
  }

  private prepOne(op: QueuedOp, linkNext: boolean): void {
    const ring = this.ring;
    for (;;) {
      let queued: boolean;
      switch (op.op) {
        case 'write':
          queued = ring.prepWrite(
            op.token,
            op.fd,
            op.data!,
            op.offset,
            linkNext,
            !this.directFds.has(op.fd),
            op.dsync,
          );
          break;
        case 'writev':
          queued = ring.prepWritev(
            op.token,
            op.fd,
            op.buffers!,
            op.offset,
            linkNext,
            !this.directFds.has(op.fd),
            op.dsync,
          );
          break;
        case 'read':
          queued = ring.prepRead(op.token, op.fd, op.data!, op.offset, linkNext);
          break;
        case 'fdatasync':
          queued = ring.prepFsync(op.token, op.fd, true, linkNext);
          break;
        case 'fsync':
          queued = ring.prepFsync(op.token, op.fd, false, linkNext);
          break;
        case 'fallocate':
          queued = ring.prepFallocate(op.token, op.fd, op.offset, op.requested, linkNext);
          break;
        case 'writeback':
          queued = ring.prepWriteback(op.token, op.fd, op.offset, op.requested, linkNext);
          break;
        case 'open':
          // An open takes no link, so it heads its chain, and dispatchChain runs it itself.
          throw new Error('invariant: an open never goes into the SQ');
      }
      if (queued) return;
      this.submit();
    }
  }

  private submit(): void {
    for (let attempt = 0; ; attempt++) {
      const submitted = this.ring.submit();
      if (submitted >= 0) return;
      // EBUSY/EAGAIN: the kernel holds completions we have not reaped (or is short of
      // memory); reaping makes room, then the same SQEs are entered again.
      const retry = -submitted === Errno.EAGAIN || -submitted === Errno.EBUSY;
      if (retry && attempt < 100) {
        this.reapNow();
        continue;
      }
      throw new WalError(
        WalErrorCode.IO,
        `io_uring_enter failed with ${errnoName(submitted)}: the ring is unusable; close it and use sync-fs (WALNUT_STORAGE_IO=sync-fs)`,
        { details: { errno: -submitted, syscall: 'io_uring_enter' } },
      );
    }
  }

  private reapNow(): void {
    for (;;) {
      const count = this.ring.reap();
      if (count > 0) this.onCompletions(count);
      if (count < COMPLETION_BATCH) return;
    }
  }

  protected override poll(): void {
    if (this.ringClosed || this.inKernel.size === 0) return;
    this.reapNow();
  }

  /** As `poll`, but also asks the kernel to post what it finished (a caller that never yields). */
  protected override reap(): void {
    if (this.ringClosed || this.inKernel.size === 0) return;
    const count = this.ring.reap(true);
    if (count > 0) this.onCompletions(count);
    this.reapNow();
  }

  /** Called by the addon (from the libuv loop) and by poll(): `count` pairs are ready. */
  private onCompletions(count: number): void {
    const pairs = this.completions;
    // Copy first: handling a completion may submit a held chain, never reap, but stay safe.
    const snapshot = pairs.slice(0, count * 2);
    for (let i = 0; i < count; i++) {
      this.complete(addonNumber(snapshot[2 * i]!), addonNumber(snapshot[2 * i + 1]!));
    }
    if (this.needsSubmit) {
      this.needsSubmit = false;
      this.submit();
    }
    if (this.inKernel.size === 0 && this.idle !== null) this.idle();
  }

  private complete(token: number, result: number): void {
    const entry = this.inKernel.get(token);
    if (entry === undefined) return;
    if (result === -Errno.ECANCELED && this.resendCancelled(token, entry)) return;
    this.inKernel.delete(token);
    const { op } = entry;
    const ok = completedInFull(op.op, op.requested, result);
    if (this.spuriousCancels.size > 0) this.spuriousCancels.delete(token);
    if (token === this.lastToken) this.lastOutcome = ok ? 'ok' : 'failed';
    this.deliver(token, op.op, op.fd, op.requested, result);
    this.settleNext(entry, ok ? 'ok' : 'failed');
    this.release(token, ok);
  }

  /**
   * An -ECANCELED that our links did not cause: the SQE before it in its kernel chain
   * succeeded (or there is none), so the kernel gave up on the operation by itself — io-wq
   * cancels queued work when it cannot create a worker thread because signals kept
   * arriving (a profiler's SIGPROF). Every operation here is idempotent (explicit
   * offsets, syncs, fallocate), so it is sent again with the same token, and the SQEs
   * linked behind it, which the kernel cancelled in turn, go with it. Returns false when
   * the -ECANCELED is to be delivered: the SQE before it really failed, or the budget is
   * spent.
   */
  private resendCancelled(token: number, entry: InKernel): boolean {
    const before = entry.before;
    if (before === 'pending') {
      entry.early = true;
      return true;
    }
    if (before === 'failed') return false;
    let resend: Resend;
    if (before === 'ok') {
      const count = this.spuriousCancels.get(token) ?? 0;
      if (count >= SPURIOUS_CANCEL_RETRIES) return false;
      this.spuriousCancels.set(token, count + 1);
      let awaiting = 0;
      for (let t = entry.next; t !== 0; t = this.inKernel.get(t)?.next ?? 0) awaiting++;
      resend = { ops: [entry.op], awaiting };
    } else {
      resend = before;
      resend.ops.push(entry.op);
      resend.awaiting--;
    }
    this.inKernel.delete(token);
    if (resend.awaiting === 0) {
      this.resentAfterKernelCancel += resend.ops.length;
      this.resubmit(resend.ops);
    } else this.settleNext(entry, resend);
    return true;
  }

  /** Tells the next SQE of `entry`'s kernel chain what `entry` became. */
  private settleNext(entry: InKernel, outcome: 'ok' | 'failed' | Resend): void {
    if (entry.next === 0) return;
    const next = this.inKernel.get(entry.next);
    if (next === undefined) return;
    next.before = outcome;
    if (next.early) this.complete(entry.next, -Errno.ECANCELED);
  }

  /** The operation `token` finished: start or cancel what was held behind it. */
  private release(token: number, ok: boolean): void {
    const chain = this.waitingOn.get(token);
    if (chain === undefined) return;
    this.waitingOn.delete(token);
    if (!ok) {
      this.cancel(chain);
      return;
    }
    this.resubmit(chain);
  }

  /** Sends a chain from a completion handler, without making it "the previous submission". */
  private resubmit(chain: QueuedOp[]): void {
    const lastToken = this.lastToken;
    const lastOutcome = this.lastOutcome;
    this.prepChain(chain);
    this.needsSubmit = true;
    const held = chain.at(-1)!.token;
    if (lastToken !== held) {
      // Something was submitted after this chain: it stays "the previous submission".
      this.lastToken = lastToken;
      this.lastOutcome = lastOutcome;
    }
  }

  private cancel(chain: QueuedOp[]): void {
    for (const op of chain) {
      if (op.token === this.lastToken) this.lastOutcome = 'failed';
      this.deliver(op.token, op.op, op.fd, op.requested, -Errno.ECANCELED);
      this.release(op.token, false);
    }
  }

  protected async drainOnClose(): Promise<void> {
    if (this.inKernel.size > 0) {
      await new Promise<void>((resolve) => {
        this.idle = resolve;
      });
    }
    this.idle = null;
    this.ringClosed = true;
    this.ring.close();
  }

  close(fd: IoFd): Promise<void> {
    this.directFds.delete(fd);
    return super.close(fd);
  }

  /**
   * Opens, sizes and closes on this thread, as every open here, but hands all the reads to
   * the kernel in one submission: from a cold cache the disk serves them together, where
   * one read after another waits for each (docs/decisions/0311).
   */
  override async readHeads(
    paths: readonly string[],
    length: number,
  ): Promise<(FileHead | Error)[]> {
    this.assertOpen();
    const fds = paths.map(openToRead);
    const buffers = headBuffers(paths.length, length);
    const got = new Array<number>(paths.length).fill(0);
    await new Promise<void>((resolve) => {
      let waiting = 0;
      const tokens = fds.map((fd, i) =>
        typeof fd === 'number' ? this.submitRead(fd, buffers[i]!, 0) : -1,
      );
      // Claimed after all are queued: the first claim flushes them together.
      tokens.forEach((token, i) => {
        if (token < 0) return;
        waiting++;
        this.onCompletion(token, ({ result }) => {
          got[i] = result;
          if (--waiting === 0) resolve();
        });
      });
      if (waiting === 0) resolve();
    });
    return fds.map((fd, i) => {
      if (fd instanceof Error) return fd;
      const [path, n] = [paths[i]!, got[i]!];
      if (n < 0) return finishHead(fd, path, ioErrorFromErrno(n, 'read', path));
      const bytes =
        n === 0 || n === length ? buffers[i]!.subarray(0, n) : readHeadOn(fd, path, buffers[i]!, n);
      return finishHead(fd, path, bytes);
    });
  }

  describe(): StorageIoDescription {
    return {
      backend: this.name,
      reason: this.reason,
      details: {
        ...(this.ringClosed ? { closed: true } : this.ring.info()),
        resentAfterKernelCancel: this.resentAfterKernelCancel,
        requested: { ...this.config },
        locks: lockScope(),
        addon: loadNative().reason,
      },
    };
  }
}

/** Whether a ring can be created here (it creates and destroys a real one to find out). */
export function ioUringAvailability(): { available: boolean; reason: string } {
  const refused = ioUringRuntimeGate();
  if (refused !== null) return { available: false, reason: refused };
  const { binding, reason } = loadNative();
  if (binding === null) return { available: false, reason };
  const failure = binding.probe();
  if (failure !== null) return { available: false, reason: failure };
  return { available: true, reason: 'a test ring was created and destroyed' };
}

/** `details.reason` is the reason alone, as `auto` reports it when it falls back. */
function unavailable(why: string, cause?: unknown): WalError {
  const reason = `io_uring is unavailable: ${why}`;
  return new WalError(
    WalErrorCode.BACKEND_UNAVAILABLE,
    `${reason}. Choose 'auto' (it falls back to sync-fs and says why) or 'sync-fs'`,
    { cause, details: { reason } },
  );
}
