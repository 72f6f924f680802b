import { badArgument, WalError, WalErrorCode } from '@walnut/codec';
import type { IoLock, StorageIo } from '@walnut/storage-io';
import { type CheckpointManifest, writeManifest } from '../files/manifest.js';
import { checkCheckpointId, checkpointManifest, reclaimFloors } from '../files/next-manifest.js';
import type { CorePathPattern } from '../files/paths.js';
import type { ResumePoint } from '../files/resume-point.js';
import { type RecoveryResult, recoverCores, type StrayCoreFile } from '../recovery/recovery.js';
import { scanFromCheckpoint } from '../recovery/scan-from-checkpoint.js';
import type { CoreWalWriter } from '../write/core-wal-writer.js';
import { CoreOwners } from './core-owners.js';
import { EpochRef } from './epoch-ref.js';
import {
  coreIds,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type PerCoreWalManagerConfig,
  writerOptions,
} from './manager-config.js';
import { createCores, type OpenedCores, openCores, type TailCut } from './open-cores.js';
import type { CoreHandoff, MessageEndpoint } from './protocol.js';

export interface ReclaimedCore {
  readonly coreId: number;
  /** Bytes of the file that no longer hold data (whole file-system blocks among them are freed). */
  readonly freedBytes: number;
}

/**
 * Coordinates the per-core logs of one directory: a writer per core (in-process, or handed
 * off to the worker thread that owns the core), the global epoch, checkpoints with an
 * atomically replaced manifest, merged recovery and space reclamation.
 */
export class PerCoreWalManager {
  readonly baseDir: string;
  readonly numCores: number;
  readonly epochRef: EpochRef;

  private readonly io: StorageIo;
  private readonly ownsIo: boolean;
  private readonly lock: IoLock;
  private readonly pattern: CorePathPattern;
  private readonly cores: CoreOwners;
  private lastManifest: CheckpointManifest;
  private readonly stray: StrayCoreFile[];
  /** Current valid ends of stray files (they are never written, only covered by checkpoints). */
  private readonly strayEnds: Map<number, ResumePoint>;
  private readonly cut: readonly TailCut[];
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(config: PerCoreWalManagerConfig, opened: OpenedCores) {
    this.baseDir = opened.baseDir;
    this.numCores = config.numCores;
    this.io = opened.io;
    this.ownsIo = opened.ownsIo;
    this.lock = opened.lock;
    this.pattern = opened.pattern;
    this.lastManifest = opened.manifest;
    this.stray = opened.stray;
    this.strayEnds = opened.strayEnds;
    this.cut = opened.tailsCut;
    this.epochRef = new EpochRef();
    this.epochRef.store(opened.epoch);
    this.cores = new CoreOwners(opened.writers, {
      numCores: config.numCores,
      corePath: (coreId) => this.corePath(coreId),
      writerOptions: writerOptions(config, opened.io),
      requestTimeoutMs: config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      epochBuffer: this.epochRef.buffer,
    });
  }

  /**
   * Creates the directory's logs: one file per core and a manifest at checkpoint 0, epoch 0.
   * `WAL_BAD_STATE` if the directory already holds a manifest or core files.
   */
  static async create(config: PerCoreWalManagerConfig): Promise<PerCoreWalManager> {
    return new PerCoreWalManager(config, await createCores(config));
  }

  /**
   * Opens existing logs: validates each core file from its manifest position, cuts a torn
   * tail (fsynced), and resumes a writer per core. Mid-file damage is `WAL_CORRUPT` naming the
   * core, file and offset. Files of cores ≥ numCores are kept, read by `recover()` and
   * reported in `strayCores`; cores added since the last run get new files.
   */
  static async open(config: PerCoreWalManagerConfig): Promise<PerCoreWalManager> {
    return new PerCoreWalManager(config, await openCores(config, false));
  }

  /**
   * `open` and `recover()` in one pass over the files: each core is read once (validated,
   * decoded, tail cut) instead of validated by `open` and read again by `recover()`.
   */
  static async openAndRecover(
    config: PerCoreWalManagerConfig,
  ): Promise<{ manager: PerCoreWalManager; recovery: RecoveryResult }> {
    const opened = await openCores(config, true);
    return { manager: new PerCoreWalManager(config, opened), recovery: opened.recovery! };
  }

  /** The current global epoch (also readable from any worker through `epochRef`). */
  get epoch(): bigint {
    return this.epochRef.load();
  }

  /** The last checkpoint written (checkpoint 0 right after `create`). */
  get manifest(): CheckpointManifest {
    return this.lastManifest;
  }

  /** Files of cores ≥ numCores found on open. */
  get strayCores(): readonly StrayCoreFile[] {
    return this.stray;
  }

  /**
   * What opening cut from the end of core files (a torn tail, a hole of lost writes, zeros
   * after the last entry), one per file it cut: `recover()` after `open` reads the files as
   * cut and reports a clean end, so this is where a cut shows. Empty after `create`.
   */
  get tailsCut(): readonly TailCut[] {
    return this.cut;
  }

  corePath(coreId: number): string {
    return this.pattern.path(this.baseDir, coreId);
  }

  /** The in-process writer of `coreId`; `WAL_BAD_ARGUMENT`/`WAL_BAD_STATE` if there is none. */
  writer(coreId: number): CoreWalWriter {
    this.assertOpen();
    return this.cores.writer(coreId);
  }

  /** The in-process writer of `coreId`, or undefined (out of range, or owned by a worker). */
  writerChecked(coreId: number): CoreWalWriter | undefined {
    this.assertOpen();
    return this.cores.inProcess(coreId);
  }

  /**
   * The in-process writer of `coreId` once the manager writes it again: at once for a core it
   * writes; for a handed-off core, once its worker's `releaseCoreWriter` has reached the
   * manager and the writer is reopened here (a message of the application's own saying the
   * worker released can arrive before that). `WAL_TIMEOUT` if no release comes within
   * `timeoutMs` (default `requestTimeoutMs`); `WAL_CLOSED` if the manager closes meanwhile.
   */
  async writerAfterRelease(coreId: number, timeoutMs?: number): Promise<CoreWalWriter> {
    this.assertOpen();
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0))
      badArgument('timeoutMs', 'a number of milliseconds ≥ 0', timeoutMs);
    return this.cores.writerAfterRelease(coreId, timeoutMs);
  }

  /** Atomically advances the global epoch and returns the new one. */
  advanceEpoch(): bigint {
    this.assertOpen();
    return this.epochRef.advance();
  }

  /**
   * Hands the writer of `coreId` to a worker: syncs and closes the in-process writer and
   * returns what the worker passes to `openHandedOffWriter`. From now on checkpoint and
   * reclaim requests for this core go to `endpoint` (the Worker, or a MessagePort whose other
   * end the worker serves with `serveCoreWriter`).
   */
  async handOff(coreId: number, endpoint: MessageEndpoint): Promise<CoreHandoff> {
    this.assertOpen();
    return this.cores.handOff(coreId, endpoint);
  }

  /**
   * Takes back core `coreId` from a worker that ended without `releaseCoreWriter` (a crash,
   * `worker.terminate()`): reopens its writer in-process at the end of what the worker wrote
   * (scanned from the last checkpoint; a torn tail is cut), and redoes here a checkpoint or
   * reclaim that was waiting on the worker. Hand it off again from there. Also reopens a
   * released core whose reopening failed (an I/O error). `WAL_LOCKED`, with
   * nothing cut, while the worker's writer is still open; `WAL_BAD_STATE` for a core that
   * was not handed off.
   */
  async takeBack(coreId: number): Promise<void> {
    this.assertOpen();
    await this.cores.takeBack(coreId, async () => {
      const manifest = this.manifest;
      const point = manifest.cores.find((core) => core.coreId === coreId)!;
      return (
        await scanFromCheckpoint(this.io, this.corePath(coreId), point, manifest.checkpointId)
      ).end;
    });
  }

  /**
   * Checkpoint `checkpointId` (greater than the last): advances the epoch; every core appends
   * an epoch barrier and syncs (in-process writers directly, worker-owned ones through the
   * message protocol); then the manifest with each core's barrier position is replaced
   * atomically. Entries before the barriers are what the checkpoint covers; `recover()`
   * replays from the barriers. Checkpoints run one at a time.
   */
  checkpoint(checkpointId: bigint): Promise<CheckpointManifest> {
    return this.serialized(() => this.runCheckpoint(checkpointId));
  }

  /**
   * Reads every core file from the manifest positions to its current end (stopping at a torn
   * tail) and merges the entries: by epoch, each core's sequence order kept, cores interleaved
   * by timestamp with core id as tie-break. Mid-file damage is `WAL_CORRUPT` (core, offset).
   */
  async recover(): Promise<RecoveryResult> {
    this.assertOpen();
    const ids = new Set([...coreIds(this.numCores), ...this.strayEnds.keys()]);
    return recoverCores({
      io: this.io,
      manifest: this.lastManifest,
      coreIds: [...ids].sort((a, b) => a - b),
      numCores: this.numCores,
      corePath: (coreId) => this.corePath(coreId),
      strayCores: this.stray,
    });
  }

  /**
   * Frees the space before each core's manifest position (never the tail): records the new
   * floors in the manifest first, then each core's owner rewrites its file sparsely (see
   * `CoreWalWriter.reclaimBefore`). Stray files are not touched.
   */
  reclaim(): Promise<ReclaimedCore[]> {
    return this.serialized(async () => {
      // Never a manifest written without the directory's lock.
      this.assertOpen();
      const { todo, floored } = reclaimFloors(this.lastManifest, this.numCores);
      if (todo.length === 0) return [];
      await writeManifest(this.io, this.baseDir, floored);
      this.lastManifest = floored;
      return Promise.all(
        todo.map(async ({ coreId, position }) => ({
          coreId,
          freedBytes: await this.cores.reclaim(coreId, position),
        })),
      );
    });
  }

  /** `await using x = …` closes it when the scope ends, as `close()` does. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Closes the in-process writers (syncing them), stops talking to workers, releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.chain.catch(() => {});
    this.closed = true;
    const errors = await this.cores.close();
    await this.lock.release();
    if (this.ownsIo) await this.io.closeIo();
    if (errors.length > 0) throw errors[0];
  }

  private async runCheckpoint(checkpointId: bigint): Promise<CheckpointManifest> {
    this.assertOpen();
    const previous = this.lastManifest;
    checkCheckpointId(checkpointId, previous);
    const epoch = this.epochRef.advance();
    // In-process barriers are appended synchronously (before the first await) in this loop.
    const barriers = await Promise.all(
      coreIds(this.numCores).map((coreId) => this.cores.barrier(coreId, checkpointId, epoch)),
    );
    const manifest = checkpointManifest(
      previous,
      { checkpointId, epoch, numCores: this.numCores, segmentPattern: this.pattern.pattern },
      barriers,
      this.strayEnds,
    );
    await writeManifest(this.io, this.baseDir, manifest);
    this.lastManifest = manifest;
    return manifest;
  }

  private serialized<T>(run: () => Promise<T>): Promise<T> {
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => {});
    return next;
  }

  private assertOpen(): void {
    if (this.closed)
      throw new WalError(WalErrorCode.CLOSED, `the per-core logs in ${this.baseDir} are closed`);
  }
}
