import * as fs from 'node:fs';
import { WalError, WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo, type PowerLossOptions } from '../backends/memory.js';
import { DIRECT_IO_SECTOR } from '../contract/aligned.js';
import type { OpenRequest, QueuedOp } from '../contract/base-storage-io.js';
import { Errno, ioErrorFromErrno } from '../contract/errors.js';
import { submitQueued } from '../contract/submit-queued.js';
import type {
  IoCompletion,
  IoFd,
  IoLock,
  StorageIo,
  StorageIoDescription,
} from '../contract/types.js';
import {
  type FileCall,
  type FileCallTarget,
  WrappingStorageIo,
} from '../contract/wrapping-storage-io.js';
import { CrashJournal } from './crash-journal.js';
import { type Fault, FaultPlan, type OpCounts } from './fault-plan.js';

export type { Fault, FaultableOp } from './fault-plan.js';

export interface FaultyOptions {
  /**
   * Seed for the tear position chosen by `crash({ tear: true })`. Default: a fresh one
   * (`defaultFaultSeed()`), which `seed` tells, and `WALNUT_FAULT_SEED` replays.
   */
  readonly seed?: number;
  /**
   * False presents the inner backend as one without dsync writes, as a StorageIo written
   * before the option existed would be, so that callers take their fdatasync path. Default:
   * as the inner backend.
   */
  readonly dsyncWrites?: boolean;
}

/** What survives `crash()`: `tear` and `reorder` as `MemoryStorageIo.simulatePowerLoss` takes them. */
export type CrashOptions = Omit<PowerLossOptions, 'seed'>;

/** The environment variable that replays the seeds `defaultFaultSeed()` chose in a failed run. */
export const FAULT_SEED_ENV = 'WALNUT_FAULT_SEED';

/**
 * Where a test runner collects the seeds chosen by default, to print them when a test fails
 * (`vitest.fault-seeds.ts` at the repository root does): an array under this symbol on
 * `globalThis`, present only while a runner listens.
 */
export const FAULT_SEEDS = Symbol.for('walnut.faultSeeds');

let nextDefault: number | undefined;

/**
 * The seed of a FaultyStorageIo built without one: the first is `WALNUT_FAULT_SEED` when set,
 * else the clock; each later one the one before plus one, so that one number replays every
 * instance of a test run alone (`vitest -t`) in the order it builds them.
 */
export function defaultFaultSeed(): number {
  if (nextDefault === undefined) {
    const given = process.env[FAULT_SEED_ENV];
    if (given !== undefined && given !== '' && !/^\d+$/.test(given)) {
      throw new WalError(
        WalErrorCode.BAD_ARGUMENT,
        `${FAULT_SEED_ENV} must be a whole number (a seed a failed test printed), got ${JSON.stringify(given)}`,
      );
    }
    nextDefault = given ? Number(given) : Date.now();
  }
  const seed = nextDefault++;
  (globalThis as { [FAULT_SEEDS]?: number[] })[FAULT_SEEDS]?.push(seed);
  return seed;
}

/** What became of the previous submission, for `linkToPrevious`. */
type PreviousOutcome = 'passed' | 'failed';

/**
 * Wraps any backend and injects scripted faults: EIO on the nth operation of a kind,
 * ENOSPC after N more bytes, short writes. `crash()` simulates a power loss: over a
 * MemoryStorageIo its durable images are restored; over real files (sync-fs, io_uring)
 * pre-images of unsynced writes are put back (see CrashJournal for the assumptions).
 * Its own tokens come from its own counter; the inner backend's never leak out.
 * `closeIo` settles this instance's work but leaves the inner backend open.
 */
export class FaultyStorageIo extends WrappingStorageIo {
  readonly #plan = new FaultPlan();
  readonly #seed: number;
  readonly #dsyncWrites: boolean;
  readonly #journal: CrashJournal | null;
  readonly #pending = new Set<Promise<void>>();
  readonly #locks = new Set<IoLock>();
  /** Fds opened with O_DIRECT: a write cut short by a fault still moves whole blocks. */
  readonly #directFds = new Set<IoFd>();
  #previous: PreviousOutcome = 'passed';
  #crashed = false;
  /** Completions held back by `holdCompletions()`, in arrival order; null when not holding. */
  #held: (() => void)[] | null = null;

  constructor(inner: StorageIo, options: FaultyOptions = {}) {
    super(inner, 'faulty');
    this.#seed = options.seed ?? defaultFaultSeed();
    this.#dsyncWrites = options.dsyncWrites !== false && inner.dsyncWrites === true;
    this.#journal = inner instanceof MemoryStorageIo ? null : new CrashJournal();
  }

  /** The seed of this instance's tears: given, or chosen by `defaultFaultSeed()`. */
  get seed(): number {
    return this.#seed;
  }

  inject(fault: Fault): void {
    this.#plan.inject(fault);
  }

  /** Removes every fault not fired yet, and frees the simulated space of an ENOSPC fault. */
  clearFaults(): void {
    this.#plan.clear();
  }

  /**
   * From now on, operations still reach the inner backend (a write's bytes land in the file)
   * but their completions wait for `releaseCompletions()`: the moment between "handed to
   * the kernel" and "completed", made to last as long as a test needs.
   */
  holdCompletions(): void {
    this.#held ??= [];
  }

  /**
   * Delivers the completions held back, in the order they arrived, and stops holding. With
   * `count`, delivers only the first `count` and goes on holding the rest and what comes
   * next: completions that arrive in separate turns of the event loop, in the order a test
   * needs (the first of two operations reported, the writer reacting, then the second).
   */
  releaseCompletions(count?: number): void {
    const held = this.#held ?? [];
    if (count === undefined) {
      this.#held = null;
      for (const deliver of held) deliver();
      return;
    }
    for (const deliver of held.splice(0, count)) deliver();
  }

  /** How many completions are held back now. */
  get heldCompletions(): number {
    return this.#held?.length ?? 0;
  }

  #complete(op: QueuedOp, result: number): void {
    if (this.#held !== null) {
      this.#held.push(() => this.deliver(op.token, op.op, op.fd, op.requested, result));
      return;
    }
    this.deliver(op.token, op.op, op.fd, op.requested, result);
  }

  /** How many operations of each kind this instance saw (faulted ones included). */
  get counts(): Readonly<OpCounts> {
    return this.#plan.counts;
  }

  protected dispatch(ops: QueuedOp[]): void {
    for (const op of ops) this.#dispatchOne(op);
    this.inner.flush();
  }

  #dispatchOne(op: QueuedOp): void {
    if (op.link && this.#previous === 'failed') {
      this.#plan.counts[op.op]++;
      this.#previous = 'failed';
      this.#complete(op, -Errno.ECANCELED);
      return;
    }
    const granularity = this.#directFds.has(op.fd) ? DIRECT_IO_SECTOR : 1;
    const decision = this.#plan.next(op.op, op.requested, granularity);
    if (decision !== null && 'errno' in decision) {
      this.#previous = 'failed';
      this.#complete(op, -decision.errno);
      return;
    }
    const allowed = decision === null ? op.requested : decision.bytes;
    const record =
      this.#journal !== null && (op.op === 'write' || op.op === 'writev') && allowed > 0
        ? this.#journal.beforeWrite(op.fd, op.offset, allowed)
        : null;
    const covered =
      this.#journal !== null && (op.op === 'fdatasync' || op.op === 'fsync')
        ? this.#journal.coveredBySync(op.fd)
        : null;
    const created =
      op.open !== undefined && op.open.options.create === true && !this.#exists(op.open.path);
    const innerToken = submitQueued(this.inner, op, allowed);
    // A short write breaks a chain even though the inner backend saw a complete one.
    this.#previous = allowed === op.requested ? 'passed' : 'failed';
    const settled = new Promise<void>((resolve) => {
      this.inner.onCompletion(innerToken, (completion: IoCompletion) => {
        this.#pending.delete(settled);
        if (record !== null && completion.result > 0) {
          record.done = true;
          // A dsync write is durable once the inner backend wrote all it was given (a
          // prefix cut short by a fault included); an inner short write stays unsynced here.
          if (op.dsync && completion.result === allowed) this.#journal!.dsyncDone(record);
        }
        if (covered !== null && completion.result === 0) this.#journal!.synced(covered);
        if (op.open !== undefined && completion.result >= 0) {
          this.#opened(completion.result, op.open, created);
        }
        this.#complete(op, completion.result);
        resolve();
      });
    });
    this.#pending.add(settled);
  }

  /** What the inner backend has ready is this instance's to deliver, at once too. */
  protected override reap(): void {
    this.inner.reapCompletions();
  }

  protected async drainOnClose(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
    this.releaseCompletions();
  }

  /**
   * Simulated power loss: every write not covered by a completed sync is lost, and with
   * `tear` the last one may survive as a prefix cut at a 512-byte boundary; with `reorder`
   * each 4 KiB page they dirtied may survive on its own, as writeback leaves it. Names
   * created since their directory's last sync disappear. Afterwards this instance
   * refuses all work (WAL_CLOSED): build a fresh one over the same inner backend (or,
   * for real files, a fresh backend) to "reboot".
   */
  async crash(options: CrashOptions = {}): Promise<void> {
    if (this.#crashed) return;
    this.#crashed = true;
    const flags = { tear: options.tear === true, reorder: options.reorder === true };
    await this.closeIo();
    for (const lock of this.#locks) await lock.release();
    this.#locks.clear();
    if (this.inner instanceof MemoryStorageIo) {
      this.inner.simulatePowerLoss({ ...flags, seed: this.#seed });
    } else {
      this.#journal!.crash(flags, this.#seed);
    }
  }

  /** Whether `path` is there before an open: a file the open creates is lost with a crash. */
  #exists(path: string): boolean {
    return this.#journal !== null && fs.existsSync(path);
  }

  #opened(fd: IoFd, { path, options }: OpenRequest, created: boolean): void {
    // A read-only descriptor is never written, so its journal needs no buffered twin.
    this.#journal?.opened(fd, path, created, options.direct === true && !options.readOnly);
    if (options.direct) this.#directFds.add(fd);
    else this.#directFds.delete(fd);
  }

  protected override fileCall<T>(
    _call: FileCall,
    _target: FileCallTarget,
    run: () => Promise<T>,
  ): Promise<T> {
    this.assertOpen();
    return run();
  }

  override async close(fd: IoFd): Promise<void> {
    await super.close(fd);
    this.#journal?.closed(fd);
    this.#directFds.delete(fd);
  }

  override async syncDirectory(path: string): Promise<void> {
    this.assertOpen();
    const decision = this.#plan.next('syncDirectory', 0);
    if (decision !== null && 'errno' in decision) {
      throw ioErrorFromErrno(decision.errno, 'fsync (directory)', path);
    }
    await super.syncDirectory(path);
    this.#journal?.directorySynced(path);
  }

  override async lock(path: string): Promise<IoLock> {
    const lock = await super.lock(path);
    this.#locks.add(lock);
    return {
      path: lock.path,
      release: async () => {
        this.#locks.delete(lock);
        await lock.release();
      },
    };
  }

  /** As the inner backend unless switched off: a `dsync` write is handed on as one, and survives `crash()`. */
  override get dsyncWrites(): boolean {
    return this.#dsyncWrites;
  }

  describe(): StorageIoDescription {
    const inner = this.inner.describe();
    return {
      backend: `faulty(${inner.backend})`,
      reason: `fault injection over ${inner.backend} (${inner.reason})`,
      details: { inner, counts: { ...this.#plan.counts }, crashed: this.#crashed },
    };
  }
}
