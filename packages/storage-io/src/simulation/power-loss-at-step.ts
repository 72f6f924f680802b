import type { IoFd, OpenOptions, StorageIo, SubmitOptions } from '../contract/types.js';
import { type CrashOptions, FaultyStorageIo } from './faulty.js';

export interface PowerLossAtStepOptions {
  /** The power goes out just before this I/O step (0 is the first counted one). */
  readonly at: number;
  /** Seed for where the last unsynced write is torn (and which pages survive with `reorder`). */
  readonly seed?: number;
  /** Unsynced writes also survive out of order, page by page (`PowerLossOptions.reorder`). */
  readonly reorder?: boolean;
  /** Count steps from construction (default) or only after `arm()`. */
  readonly armed?: boolean;
  /**
   * Start the cut from a microtask, after the caller's synchronous block (default false:
   * at once, so the step's own submission already meets a crashed backend). A real power
   * loss never makes a submission throw, and code that submits a write and its fdatasync
   * back to back sees the difference.
   */
  readonly deferred?: boolean;
}

/**
 * A FaultyStorageIo that loses power — unsynced writes lost, the last one possibly torn at a
 * sector boundary, names created since their directory's last sync gone — just before its
 * `at`-th I/O step. Every open (`open()` or `submitOpen`), submitted write, writev, fdatasync, fsync and fallocate,
 * rename, unlink and directory sync is a step. Walk `at` from 0 until `cut` stays false to
 * crash a piece of code before each of its I/O steps in turn.
 */
export class PowerLossAtStep extends FaultyStorageIo {
  readonly at: number;
  readonly #deferred: boolean;
  readonly #reorder: boolean;
  #steps: number;
  #cut: Promise<void> | null = null;

  constructor(inner: StorageIo, options: PowerLossAtStepOptions) {
    super(inner, { seed: options.seed ?? options.at });
    this.at = options.at;
    this.#deferred = options.deferred ?? false;
    this.#reorder = options.reorder ?? false;
    this.#steps = options.armed === false ? -1 : 0;
  }

  /** I/O steps counted so far. */
  get steps(): number {
    return Math.max(this.#steps, 0);
  }

  /** Whether the power went out (or is going out). */
  get cut(): boolean {
    return this.#cut !== null;
  }

  /** Starts counting steps (with `armed: false`). */
  arm(): void {
    if (this.#steps < 0) this.#steps = 0;
  }

  /** Cuts the power now if it is still on; resolves once the cut is complete. */
  powerOff(): Promise<void> {
    return this.crash({ tear: true, reorder: this.#reorder });
  }

  /** A second crash waits for the first one (the power loss happens at its end). */
  override crash(options: CrashOptions = {}): Promise<void> {
    this.#cut ??= super.crash(options);
    return this.#cut;
  }

  #step(): void {
    if (this.#steps < 0 || this.#cut !== null || this.#steps++ !== this.at) return;
    if (this.#deferred) queueMicrotask(() => this.powerOff().catch(() => {}));
    else this.powerOff().catch(() => {});
  }

  // `open()` is the promise helper over this, so an open is one step either way.
  override submitOpen(path: string, options?: OpenOptions): number {
    this.#step();
    return super.submitOpen(path, options);
  }

  override submitWrite(fd: IoFd, data: Uint8Array, offset: number, o?: SubmitOptions): number {
    this.#step();
    return super.submitWrite(fd, data, offset, o);
  }

  override submitWritev(
    fd: IoFd,
    buffers: readonly Uint8Array[],
    offset: number,
    o?: SubmitOptions,
  ): number {
    this.#step();
    return super.submitWritev(fd, buffers, offset, o);
  }

  override submitDatasync(fd: IoFd, o?: SubmitOptions): number {
    this.#step();
    return super.submitDatasync(fd, o);
  }

  override submitFsync(fd: IoFd, o?: SubmitOptions): number {
    this.#step();
    return super.submitFsync(fd, o);
  }

  override submitFallocate(fd: IoFd, offset: number, length: number, o?: SubmitOptions): number {
    this.#step();
    return super.submitFallocate(fd, offset, length, o);
  }

  override rename(from: string, to: string): Promise<void> {
    this.#step();
    return super.rename(from, to);
  }

  override unlink(path: string): Promise<void> {
    this.#step();
    return super.unlink(path);
  }

  override syncDirectory(path: string): Promise<void> {
    this.#step();
    return super.syncDirectory(path);
  }
}
