import { badArgument, WalError, WalErrorCode } from '@walnut/codec';
import { writeFully } from '../write-core/write-fully.js';
import { closedError, ioErrorFromErrno } from './errors.js';
import type {
  IoCompletion,
  IoFd,
  IoLock,
  IoOp,
  OpenOptions,
  StorageIo,
  StorageIoDescription,
  SubmitOptions,
} from './types.js';

/** A submission that has a token but has not been handed to the backend yet. */
export interface QueuedOp {
  readonly token: number;
  readonly op: IoOp;
  readonly fd: IoFd;
  /** Bytes asked for (0 for syncs). */
  readonly requested: number;
  /** Run only if the previous submission of this instance succeeded in full. */
  readonly link: boolean;
  /** File offset (write/writev/read/fallocate/writeback). */
  readonly offset: number;
  /** The buffer of a write or read. */
  readonly data: Uint8Array | undefined;
  /** The buffers of a writev. */
  readonly buffers: readonly Uint8Array[] | undefined;
  /** What an `open` opens (its `fd` is -1). */
  readonly open: OpenRequest | undefined;
  /** A write or writev durable on completion (`SubmitOptions.dsync`). */
  readonly dsync: boolean;
}

export interface OpenRequest {
  readonly path: string;
  readonly options: OpenOptions;
}

interface Waiter {
  readonly min: number;
  readonly resolve: (completions: IoCompletion[]) => void;
}

/** Whether a submission of `op` with `options` is a dsync write: `dsync` means nothing to other ops. */
export function isDsyncWrite(op: IoOp, options: SubmitOptions | undefined): boolean {
  return options?.dsync === true && (op === 'write' || op === 'writev');
}

/** True when `result` counts as success for a link: syncs ≥ 0, transfers in full. */
export function completedInFull(op: IoOp, requested: number, result: number): boolean {
  if (result < 0) return false;
  if (op === 'write' || op === 'writev' || op === 'read') return result === requested;
  return true;
}

const NO_SUBMIT_OPTIONS: SubmitOptions = {};

/**
 * Everything every backend shares: the one token counter, completion routing (claimed
 * tokens resolve their `completion(token)` promise, the rest wait for
 * `pollCompletions`/`waitCompletions`), and the promise helpers built on submit +
 * completion. A backend implements `dispatch` (hand queued operations over) and calls
 * `deliver` once per completion, in any order, from the event loop or synchronously.
 */
export abstract class BaseStorageIo implements StorageIo {
  abstract readonly name: string;

  #nextToken = 1;
  #queue: QueuedOp[] = [];
  /** Tokens submitted whose completion has not arrived. */
  readonly #outstanding = new Set<number>();
  /** Arrived, unclaimed, not yet collected; insertion order is arrival order. */
  readonly #ready = new Map<number, IoCompletion>();
  readonly #claims = new Map<number, (completion: IoCompletion) => void>();
  /** Claims made with `onCompletion`, whose callbacks must not run inside this instance's calls. */
  readonly #callbackClaims = new Set<number>();
  /** > 0 while completions are delivered at the top of a call stack (see `deliverAtTop`). */
  #atTop = 0;
  /** A callback is running: completions it causes are delivered from a microtask. */
  #inCallback = false;
  /** Callbacks whose completion arrived where they could not run at once, in arrival order. */
  #deferred: { callback: (completion: IoCompletion) => void; completion: IoCompletion }[] = [];
  #waiters: Waiter[] = [];
  #closed = false;

  /** Hand these operations (in submission order) to the kernel / execute them. */
  protected abstract dispatch(ops: QueuedOp[]): void;
  /** Called once by `closeIo` after the last flush: settle everything outstanding. */
  protected abstract drainOnClose(): Promise<void>;

  abstract close(fd: IoFd): Promise<void>;
  abstract size(fd: IoFd): Promise<number>;
  abstract truncate(fd: IoFd, length: number): Promise<void>;
  abstract mkdir(path: string): Promise<void>;
  abstract readdir(path: string): Promise<string[]>;
  abstract stat(path: string): Promise<{ size: number } | null>;
  abstract rename(from: string, to: string): Promise<void>;
  abstract unlink(path: string): Promise<void>;
  abstract syncDirectory(path: string): Promise<void>;
  abstract lock(path: string): Promise<IoLock>;
  abstract describe(): StorageIoDescription;

  protected get isClosed(): boolean {
    return this.#closed;
  }

  /** Throws WAL_CLOSED once `closeIo` was called. */
  protected assertOpen(): void {
    if (this.#closed) throw closedError(this.name);
  }

  /** Submissions still waiting for `flush()`. */
  protected get queuedCount(): number {
    return this.#queue.length;
  }

  submitOpen(path: string, options: OpenOptions = {}): number {
    if (typeof path !== 'string' || path.length === 0) badArgument('path', 'a file path', path);
    if (typeof options !== 'object' || options === null) {
      badArgument('options', 'an OpenOptions object', options);
    }
    return this.#enqueue('open', -1, 0, undefined, 0, undefined, undefined, { path, options });
  }

  submitWrite(fd: IoFd, data: Uint8Array, offset: number, options?: SubmitOptions): number {
    if (!(data instanceof Uint8Array)) badArgument('data', 'a Uint8Array', data);
    return this.#enqueue('write', fd, data.length, options, offset, data, undefined);
  }

  submitWritev(
    fd: IoFd,
    buffers: readonly Uint8Array[],
    offset: number,
    options?: SubmitOptions,
  ): number {
    if (!Array.isArray(buffers)) badArgument('buffers', 'an array of Uint8Array', buffers);
    let requested = 0;
    for (const buffer of buffers) {
      if (!(buffer instanceof Uint8Array)) badArgument('buffers[i]', 'a Uint8Array', buffer);
      requested += buffer.length;
    }
    return this.#enqueue('writev', fd, requested, options, offset, undefined, buffers);
  }

  submitRead(fd: IoFd, into: Uint8Array, offset: number, options?: SubmitOptions): number {
    if (!(into instanceof Uint8Array)) badArgument('into', 'a Uint8Array', into);
    return this.#enqueue('read', fd, into.length, options, offset, into, undefined);
  }

  submitDatasync(fd: IoFd, options?: SubmitOptions): number {
    return this.#enqueue('fdatasync', fd, 0, options, 0, undefined, undefined);
  }

  submitFsync(fd: IoFd, options?: SubmitOptions): number {
    return this.#enqueue('fsync', fd, 0, options, 0, undefined, undefined);
  }

  submitFallocate(fd: IoFd, offset: number, length: number, options?: SubmitOptions): number {
    return this.#enqueueRange('fallocate', fd, offset, length, options);
  }

  submitWriteback(fd: IoFd, offset: number, length: number, options?: SubmitOptions): number {
    return this.#enqueueRange('writeback', fd, offset, length, options);
  }

  /** An operation on a byte range of a file that moves no data of ours (fallocate, writeback). */
  #enqueueRange(
    op: IoOp,
    fd: IoFd,
    offset: number,
    length: number,
    options: SubmitOptions | undefined,
  ): number {
    if (!Number.isSafeInteger(length) || length <= 0) {
      badArgument('length', 'a positive safe integer', length);
    }
    return this.#enqueue(op, fd, length, options, offset, undefined, undefined);
  }

  #enqueue(
    op: IoOp,
    fd: IoFd,
    requested: number,
    options: SubmitOptions | undefined,
    offset: number,
    data: Uint8Array | undefined,
    buffers: readonly Uint8Array[] | undefined,
    open?: OpenRequest,
  ): number {
    if (this.#closed) throw closedError(this.name);
    if (!Number.isInteger(fd)) badArgument('fd', 'an integer file descriptor', fd);
    if (!Number.isSafeInteger(offset) || offset < 0) {
      badArgument('offset', 'a non-negative safe integer', offset);
    }
    const token = this.#nextToken++;
    const link = (options ?? NO_SUBMIT_OPTIONS).linkToPrevious === true;
    this.#queue.push({
      token,
      op,
      fd,
      requested,
      link,
      offset,
      data,
      buffers,
      open,
      dsync: isDsyncWrite(op, options),
    });
    this.#outstanding.add(token);
    return token;
  }

  flush(): number {
    const ops = this.#queue;
    if (ops.length === 0) return 0;
    this.#queue = [];
    this.dispatch(ops);
    return ops.length;
  }

  /** Records the completion of a submitted token. Backends call this exactly once per token. */
  protected deliver(token: number, op: IoOp, fd: IoFd, requested: number, result: number): void {
    if (!this.#outstanding.delete(token)) return;
    const completion: IoCompletion = { token, op, fd, requested, result };
    const claim = this.#claims.get(token);
    if (claim !== undefined) {
      this.#claims.delete(token);
      if (this.#callbackClaims.delete(token)) this.#runCallback(claim, completion);
      else claim(completion);
    } else {
      this.#ready.set(token, completion);
    }
    if (this.#waiters.length > 0) this.#wakeWaiters();
  }

  /**
   * A callback runs now only at the top of a call stack and not inside another callback;
   * elsewhere (a poll inside `completion()`, a completion handled while submitting) it waits
   * for a microtask, as a promise's handler would.
   */
  #runCallback(callback: (completion: IoCompletion) => void, completion: IoCompletion): void {
    if (this.#atTop === 0 || this.#inCallback) {
      // Whichever comes first runs it: a microtask, or the next delivery at the top of a
      // stack (a loop that never yields runs no microtasks, but does call reapCompletions).
      if (this.#deferred.push({ callback, completion }) === 1)
        queueMicrotask(() => this.#runDeferred());
      return;
    }
    this.#inCallback = true;
    try {
      callback(completion);
    } finally {
      this.#inCallback = false;
    }
  }

  #runDeferred(): void {
    if (this.#inCallback || this.#deferred.length === 0) return;
    this.#inCallback = true;
    try {
      while (this.#deferred.length > 0) {
        const { callback, completion } = this.#deferred.shift()!;
        callback(completion);
      }
    } finally {
      this.#inCallback = false;
    }
  }

  /**
   * Runs `deliverNow` (which calls `deliver`) as a delivery at the top of a call stack: the
   * event loop's callback of a backend, or `reapCompletions`.
   */
  protected deliverAtTop(deliverNow: () => void): void {
    this.#atTop++;
    try {
      this.#runDeferred();
      deliverNow();
    } finally {
      this.#atTop--;
    }
  }

  reapCompletions(): void {
    this.deliverAtTop(() => this.reap());
  }

  /** Delivers every completion that is already there; `poll()` unless a backend knows more. */
  protected reap(): void {
    this.poll();
  }

  pollCompletions(): IoCompletion[] {
    this.poll();
    return this.#takeReady();
  }

  /** Backends that can reap completions without waiting (io_uring's CQ) do it here. */
  protected poll(): void {}

  #takeReady(): IoCompletion[] {
    if (this.#ready.size === 0) return [];
    const completions = Array.from(this.#ready.values());
    this.#ready.clear();
    return completions;
  }

  waitCompletions(min = 1): Promise<IoCompletion[]> {
    if (!Number.isSafeInteger(min) || min < 0) badArgument('min', 'a non-negative integer', min);
    this.flush();
    this.poll();
    if (this.#canResolve(min)) return Promise.resolve(this.#takeReady());
    return new Promise((resolve) => {
      this.#waiters.push({ min, resolve });
    });
  }

  /**
   * A waiter resolves once `min` completions are ready, or earlier when no unclaimed
   * operation is left whose completion could still arrive (it would wait forever).
   */
  #canResolve(min: number): boolean {
    if (this.#ready.size >= min) return true;
    return this.#outstanding.size - this.#claims.size === 0;
  }

  #wakeWaiters(): void {
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters[0]!;
      if (!this.#canResolve(waiter.min)) return;
      this.#waiters.shift();
      waiter.resolve(this.#takeReady());
    }
  }

  get inFlight(): number {
    return this.#outstanding.size + this.#ready.size;
  }

  completion(token: number): Promise<IoCompletion> {
    const ready = this.#ready.get(token);
    if (ready !== undefined) {
      this.#ready.delete(token);
      return Promise.resolve(ready);
    }
    if (!this.#outstanding.has(token)) {
      return Promise.reject(
        new WalError(
          WalErrorCode.BAD_ARGUMENT,
          `token ${token} is not in flight on this StorageIo (never submitted, or its completion was already collected)`,
        ),
      );
    }
    if (this.#claims.has(token)) {
      return Promise.reject(
        new WalError(
          WalErrorCode.BAD_ARGUMENT,
          `token ${token} was already claimed by another completion(token) call`,
        ),
      );
    }
    const promise = new Promise<IoCompletion>((resolve) => {
      this.#claims.set(token, resolve);
    });
    if (this.#queue.length > 0) this.flush();
    this.poll();
    if (this.#waiters.length > 0) this.#wakeWaiters();
    return promise;
  }

  onCompletion(token: number, callback: (completion: IoCompletion) => void): void {
    if (typeof callback !== 'function') badArgument('callback', 'a function', callback);
    const ready = this.#ready.get(token);
    if (ready !== undefined) {
      this.#ready.delete(token);
      queueMicrotask(() => callback(ready));
      return;
    }
    if (!this.#outstanding.has(token) || this.#claims.has(token)) {
      throw new WalError(
        WalErrorCode.BAD_ARGUMENT,
        `token ${token} is not in flight on this StorageIo, or was already claimed`,
      );
    }
    this.#claims.set(token, callback);
    this.#callbackClaims.add(token);
    if (this.#queue.length > 0) this.flush();
  }

  async open(path: string, options?: OpenOptions): Promise<IoFd> {
    const completion = await this.completion(this.submitOpen(path, options));
    if (completion.result < 0) throw ioErrorFromErrno(completion.result, 'open', path);
    return completion.result;
  }

  async write(fd: IoFd, data: Uint8Array, offset: number): Promise<number> {
    await writeFully(this, fd, data, offset);
    return data.length;
  }

  async read(fd: IoFd, into: Uint8Array, offset: number): Promise<number> {
    const completion = await this.completion(this.submitRead(fd, into, offset));
    if (completion.result < 0) throw ioErrorFromErrno(completion.result, 'read');
    return completion.result;
  }

  async datasync(fd: IoFd): Promise<void> {
    const completion = await this.completion(this.submitDatasync(fd));
    if (completion.result < 0) throw ioErrorFromErrno(completion.result, 'fdatasync');
  }

  async fsync(fd: IoFd): Promise<void> {
    const completion = await this.completion(this.submitFsync(fd));
    if (completion.result < 0) throw ioErrorFromErrno(completion.result, 'fsync');
  }

  async fallocate(fd: IoFd, offset: number, length: number): Promise<void> {
    const completion = await this.completion(this.submitFallocate(fd, offset, length));
    if (completion.result < 0) throw ioErrorFromErrno(completion.result, 'fallocate');
  }

  async closeIo(): Promise<void> {
    if (this.#closed) return this.#closing;
    this.#closed = true;
    this.flush();
    this.#closing = this.drainOnClose().then(() => {
      this.#wakeWaiters();
    });
    return this.#closing;
  }

  #closing: Promise<void> = Promise.resolve();
}
