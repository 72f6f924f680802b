import { join } from 'node:path';
import {
  badArgument,
  type CoreEntry,
  FILE_HEADER_SIZE,
  invalidArgument,
  type ScanStop,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { createStorageIo, type IoLock, type StorageIo } from '@walnut/storage-io';
import type { Clock } from './clock.js';
import { CoreWalWriter, type ResumePoint } from './core-wal-writer.js';
import { EpochRef } from './epoch-ref.js';
import {
  type CheckpointManifest,
  type CoreCheckpoint,
  MANIFEST_FILE,
  readManifest,
  writeManifest,
} from './manifest.js';
import { mergeCoreEntries } from './merge.js';
import { CorePathPattern, DEFAULT_SEGMENT_PATTERN } from './paths.js';
import {
  type CoreHandoff,
  type MessageEndpoint,
  RELEASED,
  WorkerLink,
  writeEpochBarrier,
} from './protocol.js';
import { PerCoreWalReader } from './reader.js';
import { scanCoreRange } from './scan.js';

export interface PerCoreWalManagerConfig {
  readonly baseDir: string;
  /** Cores (workers) writing, each to its own file. 1..65536. */
  readonly numCores: number;
  /** File name of a core's log; `{core_id}` is replaced by the core id. Default `wal-{core_id}.log`. */
  readonly segmentPattern?: string;
  /** Default: `createStorageIo()`, owned (closed) by the manager. */
  readonly io?: StorageIo;
  /** Clock for the in-process writers' timestamps. */
  readonly clock?: Clock;
  readonly bufferSize?: number;
  /** How long a worker may take to answer a checkpoint or reclaim request (default 30 s). */
  readonly requestTimeoutMs?: number;
}

/** A core file whose id is ≥ numCores: left from a larger core count. */
export interface StrayCoreFile {
  readonly coreId: number;
  readonly path: string;
  /** Entries after its manifest position (they are part of `recover()`). */
  readonly unreplayedBytes: number;
}

export interface CoreRecovery {
  readonly coreId: number;
  readonly path: string;
  /** Where reading started (the manifest position). */
  readonly from: number;
  /** End of the last valid entry. */
  readonly end: number;
  readonly stop: ScanStop;
  readonly count: number;
  /** True for a file of a core ≥ numCores. */
  readonly stray: boolean;
}

export interface RecoveryResult {
  readonly manifest: CheckpointManifest;
  /** Every entry after the checkpoint, merged (see `mergeCoreEntries` for the order). */
  readonly entries: CoreEntry[];
  readonly cores: readonly CoreRecovery[];
  readonly strayCores: readonly StrayCoreFile[];
}

export interface ReclaimedCore {
  readonly coreId: number;
  /** Bytes of the file that no longer hold data (whole file-system blocks among them are freed). */
  readonly freedBytes: number;
}

const HEADER_POINT: Omit<CoreCheckpoint, 'coreId'> = {
  position: FILE_HEADER_SIZE,
  sequence: 0n,
  epoch: 0n,
  timestampNs: 0n,
  reclaimedBefore: FILE_HEADER_SIZE,
};

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
  private readonly requestTimeoutMs: number;
  private readonly writers = new Map<number, CoreWalWriter>();
  private readonly workers = new Map<number, WorkerLink>();
  /** Cores whose worker released them, while their writer is being reopened in-process. */
  private readonly reacquiring = new Map<number, Promise<CoreWalWriter>>();
  private readonly writerOptions: { io: StorageIo; clock?: Clock; bufferSize?: number };
  private lastManifest: CheckpointManifest;
  private stray: StrayCoreFile[];
  /** Current valid ends of stray files (they are never written, only covered by checkpoints). */
  private readonly strayEnds = new Map<number, ResumePoint>();
  private chain: Promise<unknown> = Promise.resolve();
  private nextRequestId = 1;
  private closed = false;

  private constructor(
    config: PerCoreWalManagerConfig,
    io: StorageIo,
    ownsIo: boolean,
    lock: IoLock,
    manifest: CheckpointManifest,
  ) {
    this.baseDir = config.baseDir;
    this.numCores = config.numCores;
    this.io = io;
    this.ownsIo = ownsIo;
    this.lock = lock;
    this.pattern = new CorePathPattern(config.segmentPattern ?? DEFAULT_SEGMENT_PATTERN);
    this.requestTimeoutMs = config.requestTimeoutMs ?? 30_000;
    this.lastManifest = manifest;
    this.writerOptions = writerOptions(config, io);
    this.stray = [];
    this.epochRef = new EpochRef();
    this.epochRef.store(manifest.epoch);
  }

  /**
   * Creates the directory's logs: one file per core and a manifest at checkpoint 0, epoch 0.
   * `WAL_BAD_STATE` if the directory already holds a manifest or core files.
   */
  static async create(config: PerCoreWalManagerConfig): Promise<PerCoreWalManager> {
    checkConfig(config);
    const { io, ownsIo } = ioFrom(config);
    const pattern = new CorePathPattern(config.segmentPattern ?? DEFAULT_SEGMENT_PATTERN);
    let lock: IoLock | null = null;
    try {
      await mkdirs(io, config.baseDir);
      lock = await io.lock(join(config.baseDir, 'LOCK'));
      const names = await io.readdir(config.baseDir);
      const existing = names.filter((n) => n === MANIFEST_FILE || pattern.coreIdOf(n) !== null);
      if (existing.length > 0)
        throw new WalError(
          WalErrorCode.BAD_STATE,
          `${config.baseDir} already holds per-core logs (${existing.slice(0, 3).join(', ')}); use PerCoreWalManager.open, or choose an empty directory`,
        );
      const manifest: CheckpointManifest = {
        checkpointId: 0n,
        epoch: 0n,
        numCores: config.numCores,
        segmentPattern: pattern.pattern,
        cores: range(config.numCores).map((coreId) => ({ coreId, ...HEADER_POINT })),
      };
      const manager = new PerCoreWalManager(config, io, ownsIo, lock, manifest);
      for (const coreId of range(config.numCores))
        manager.writers.set(
          coreId,
          await CoreWalWriter.create(coreId, manager.corePath(coreId), writerOptions(config, io)),
        );
      await writeManifest(io, config.baseDir, manifest);
      return manager;
    } catch (error) {
      await lock?.release().catch(() => {});
      if (ownsIo) await io.closeIo();
      throw error;
    }
  }

  /**
   * Opens existing logs: validates each core file from its manifest position, cuts a torn
   * tail (fsynced), and resumes a writer per core. Mid-file damage is `WAL_CORRUPT` naming the
   * core, file and offset. Files of cores ≥ numCores are kept, read by `recover()` and
   * reported in `strayCores`; cores added since the last run get new files.
   */
  static async open(config: PerCoreWalManagerConfig): Promise<PerCoreWalManager> {
    return (await PerCoreWalManager.openWith(config, false)).manager;
  }

  /**
   * `open` and `recover()` in one pass over the files: each core is read once (validated,
   * decoded, tail cut) instead of validated by `open` and read again by `recover()`.
   */
  static async openAndRecover(
    config: PerCoreWalManagerConfig,
  ): Promise<{ manager: PerCoreWalManager; recovery: RecoveryResult }> {
    const { manager, recovery } = await PerCoreWalManager.openWith(config, true);
    return { manager, recovery: recovery! };
  }

  private static async openWith(
    config: PerCoreWalManagerConfig,
    collect: boolean,
  ): Promise<{ manager: PerCoreWalManager; recovery: RecoveryResult | null }> {
    checkConfig(config);
    const { io, ownsIo } = ioFrom(config);
    let lock: IoLock | null = null;
    const opened: CoreWalWriter[] = [];
    try {
      lock = await io.lock(join(config.baseDir, 'LOCK'));
      const manifest = await readManifest(io, config.baseDir);
      if (manifest === null)
        throw new WalError(
          WalErrorCode.BAD_STATE,
          `${config.baseDir} has no ${MANIFEST_FILE}; create the logs with PerCoreWalManager.create`,
        );
      const pattern = config.segmentPattern ?? manifest.segmentPattern;
      const manager = new PerCoreWalManager(
        { ...config, segmentPattern: pattern },
        io,
        ownsIo,
        lock,
        manifest,
      );
      const onDisk = await manager.coreIdsOnDisk();
      const points = new Map(manifest.cores.map((c) => [c.coreId, c]));
      for (const coreId of points.keys())
        if (!onDisk.has(coreId))
          throw new WalError(
            WalErrorCode.MISSING_SEGMENT,
            `${manager.corePath(coreId)} (core ${coreId}) is listed in the manifest but missing; restore it — its entries after checkpoint ${manifest.checkpointId} are not anywhere else`,
            { details: { segment: manager.corePath(coreId), coreId } },
          );
      const cores: CoreRecovery[] = [];
      const lists: CoreEntry[][] = [];
      const scan = async (coreId: number, point: CoreCheckpoint): Promise<ResumePoint> => {
        const entries: CoreEntry[] | undefined = collect ? [] : undefined;
        const scanned = await manager.validEnd(coreId, point, entries);
        if (entries !== undefined) {
          lists.push(entries);
          cores.push({
            coreId,
            path: manager.corePath(coreId),
            from: point.position,
            end: scanned.end.position,
            stop: scanned.stop,
            count: entries.length,
            stray: coreId >= config.numCores,
          });
        }
        return scanned.end;
      };
      for (const coreId of range(config.numCores)) {
        const path = manager.corePath(coreId);
        const options = writerOptions(config, io);
        if (!onDisk.has(coreId)) {
          const writer = await CoreWalWriter.create(coreId, path, options);
          opened.push(writer);
          manager.writers.set(coreId, writer);
          continue;
        }
        const end = await scan(coreId, points.get(coreId) ?? { coreId, ...HEADER_POINT });
        const writer = await CoreWalWriter.openAt(coreId, path, end.position, {
          ...options,
          from: end,
        });
        opened.push(writer);
        manager.writers.set(coreId, writer);
      }
      for (const coreId of [...onDisk]
        .filter((id) => id >= config.numCores)
        .sort((a, b) => a - b)) {
        const point = points.get(coreId) ?? { coreId, ...HEADER_POINT };
        const end = await scan(coreId, point);
        manager.strayEnds.set(coreId, end);
        manager.stray.push({
          coreId,
          path: manager.corePath(coreId),
          unreplayedBytes: end.position - point.position,
        });
      }
      // A crash between the barriers of a checkpoint and its manifest leaves entries of a
      // newer epoch than the manifest's: continue above them, so epochs keep increasing.
      let epoch = manifest.epoch;
      for (const writer of opened) if (writer.epoch > epoch) epoch = writer.epoch;
      for (const end of manager.strayEnds.values()) if (end.epoch > epoch) epoch = end.epoch;
      manager.epochRef.store(epoch);
      const recovery = collect
        ? { manifest, entries: mergeCoreEntries(lists), cores, strayCores: manager.stray }
        : null;
      return { manager, recovery };
    } catch (error) {
      for (const writer of opened) await writer.close().catch(() => {});
      await lock?.release().catch(() => {});
      if (ownsIo) await io.closeIo();
      throw error;
    }
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

  corePath(coreId: number): string {
    return join(this.baseDir, this.pattern.fileName(coreId));
  }

  /** The in-process writer of `coreId`; `WAL_BAD_ARGUMENT`/`WAL_BAD_STATE` if there is none. */
  writer(coreId: number): CoreWalWriter {
    const writer = this.writerChecked(coreId);
    if (writer !== undefined) return writer;
    if (this.reacquiring.has(coreId))
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `core ${coreId} is being taken back from its worker; retry once its writer is reopened`,
      );
    if (this.workers.has(coreId))
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `core ${coreId} was handed off to a worker; only that worker writes it`,
      );
    invalidArgument(
      `coreId must be an integer from 0 to ${this.numCores - 1}, got ${String(coreId)}`,
    );
  }

  /** The in-process writer of `coreId`, or undefined (out of range, or owned by a worker). */
  writerChecked(coreId: number): CoreWalWriter | undefined {
    this.assertOpen();
    return this.writers.get(coreId);
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
    const writer = this.writer(coreId);
    await writer.close();
    this.writers.delete(coreId);
    this.workers.set(
      coreId,
      new WorkerLink(coreId, endpoint, this.requestTimeoutMs, (resume) =>
        this.reacquire(coreId, resume),
      ),
    );
    return {
      coreId,
      path: writer.path,
      resume: writer.resumePoint,
      epochBuffer: this.epochRef.buffer,
    };
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
    const manifest = this.lastManifest;
    const points = new Map(manifest.cores.map((c) => [c.coreId, c]));
    const ids = new Set([...range(this.numCores), ...this.strayEnds.keys()]);
    const cores: CoreRecovery[] = [];
    const lists: CoreEntry[][] = [];
    for (const coreId of [...ids].sort((a, b) => a - b)) {
      const point = points.get(coreId) ?? { coreId, ...HEADER_POINT };
      const path = this.corePath(coreId);
      const reader = await PerCoreWalReader.open(path, { io: this.io, coreId });
      try {
        const result = await withCore(coreId, () => reader.read({ from: point }));
        lists.push(result.entries);
        cores.push({
          coreId,
          path,
          from: result.from,
          end: result.end,
          stop: result.stop,
          count: result.entries.length,
          stray: coreId >= this.numCores,
        });
      } finally {
        await reader.close();
      }
    }
    return { manifest, entries: mergeCoreEntries(lists), cores, strayCores: this.stray };
  }

  /**
   * Frees the space before each core's manifest position (never the tail): records the new
   * floors in the manifest first, then each core's owner rewrites its file sparsely (see
   * `CoreWalWriter.reclaimBefore`). Stray files are not touched.
   */
  reclaim(): Promise<ReclaimedCore[]> {
    return this.serialized(async () => {
      const manifest = this.lastManifest;
      const todo = manifest.cores.filter(
        (c) => c.coreId < this.numCores && c.reclaimedBefore < c.position,
      );
      if (todo.length === 0) return [];
      const floored: CheckpointManifest = {
        ...manifest,
        cores: manifest.cores.map((c) =>
          c.coreId < this.numCores ? { ...c, reclaimedBefore: c.position } : c,
        ),
      };
      await writeManifest(this.io, this.baseDir, floored);
      this.lastManifest = floored;
      return Promise.all(
        todo.map(async ({ coreId, position }) => {
          for (;;) {
            const writer = this.writers.get(coreId) ?? (await this.reacquiring.get(coreId));
            if (writer !== undefined)
              return { coreId, freedBytes: await writer.reclaimBefore(position) };
            const reply = await this.link(coreId)
              .request(
                {
                  type: 'walnut:reclaim',
                  coreId,
                  requestId: this.nextRequestId++,
                  before: position,
                },
                'walnut:reclaimed',
              )
              .catch((error: unknown) => {
                if (error === RELEASED) return null;
                throw error;
              });
            if (reply?.type === 'walnut:reclaimed') return { coreId, freedBytes: reply.freedBytes };
          }
        }),
      );
    });
  }

  /** Closes the in-process writers (syncing them), stops talking to workers, releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.chain.catch(() => {});
    this.closed = true;
    const errors: unknown[] = [];
    await Promise.allSettled(this.reacquiring.values());
    for (const writer of this.writers.values()) await writer.close().catch((e) => errors.push(e));
    for (const link of this.workers.values()) link.detach();
    await this.lock.release();
    if (this.ownsIo) await this.io.closeIo();
    if (errors.length > 0) throw errors[0];
  }

  private async runCheckpoint(checkpointId: bigint): Promise<CheckpointManifest> {
    this.assertOpen();
    const previous = this.lastManifest;
    if (typeof checkpointId !== 'bigint' || checkpointId <= previous.checkpointId)
      invalidArgument(
        `checkpointId must be a bigint greater than the last one (${previous.checkpointId}), got ${String(checkpointId)}`,
      );
    const epoch = this.epochRef.advance();
    const floors = new Map(previous.cores.map((c) => [c.coreId, c.reclaimedBefore]));
    // In-process barriers are appended synchronously (before the first await) in this loop.
    const barriers = await Promise.all(
      range(this.numCores).map((coreId) => this.barrier(coreId, checkpointId, epoch)),
    );
    const cores: CoreCheckpoint[] = barriers.map((point, coreId) => ({
      coreId,
      ...point,
      reclaimedBefore: floors.get(coreId) ?? FILE_HEADER_SIZE,
    }));
    for (const [coreId, end] of this.strayEnds)
      cores.push({ coreId, ...end, reclaimedBefore: floors.get(coreId) ?? FILE_HEADER_SIZE });
    const manifest: CheckpointManifest = {
      checkpointId,
      epoch,
      numCores: this.numCores,
      segmentPattern: this.pattern.pattern,
      cores,
    };
    await writeManifest(this.io, this.baseDir, manifest);
    this.lastManifest = manifest;
    return manifest;
  }

  /** In-process writers get their barrier synchronously (before this returns a promise). */
  private barrier(coreId: number, checkpointId: bigint, epoch: bigint): Promise<ResumePoint> {
    const writer = this.writers.get(coreId);
    if (writer !== undefined) return writeEpochBarrier(writer, epoch);
    const reacquiring = this.reacquiring.get(coreId);
    if (reacquiring !== undefined) return reacquiring.then((w) => writeEpochBarrier(w, epoch));
    return this.link(coreId)
      .request(
        { type: 'walnut:checkpoint', coreId, requestId: this.nextRequestId++, checkpointId, epoch },
        'walnut:checkpointed',
      )
      .then(
        (reply) => {
          if (reply.type !== 'walnut:checkpointed' || reply.syncedPosition < reply.barrier.position)
            throw new WalError(
              WalErrorCode.BAD_STATE,
              `the worker of core ${coreId} answered the checkpoint without syncing its barrier`,
            );
          return reply.barrier;
        },
        (error: unknown) => {
          if (error === RELEASED) return this.barrier(coreId, checkpointId, epoch);
          throw error;
        },
      );
  }

  /** A worker gave its core back: reopen the writer in-process where the worker left it. */
  private reacquire(coreId: number, resume: ResumePoint): void {
    this.workers.delete(coreId);
    const path = this.corePath(coreId);
    const reopening = CoreWalWriter.openAt(coreId, path, resume.position, {
      ...this.writerOptions,
      from: resume,
    }).then((writer) => {
      this.writers.set(coreId, writer);
      this.reacquiring.delete(coreId);
      return writer;
    });
    reopening.catch(() => {});
    this.reacquiring.set(coreId, reopening);
  }

  private link(coreId: number): WorkerLink {
    const link = this.workers.get(coreId);
    if (link === undefined)
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `core ${coreId} has neither a writer nor a worker`,
      );
    return link;
  }

  private serialized<T>(run: () => Promise<T>): Promise<T> {
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => {});
    return next;
  }

  /**
   * Scans a core file from its manifest point (collecting its entries when `into` is given);
   * returns the end of the last valid entry and why the scan stopped.
   */
  private async validEnd(
    coreId: number,
    point: CoreCheckpoint,
    into?: CoreEntry[],
  ): Promise<{ end: ResumePoint; stop: ScanStop }> {
    const path = this.corePath(coreId);
    const fd = await this.io.open(path, { readOnly: true });
    try {
      const size = await this.io.size(fd);
      if (size < point.position)
        throw new WalError(
          WalErrorCode.CORRUPT,
          `${path} (core ${coreId}) is ${size} bytes but checkpoint ${this.lastManifest.checkpointId} recorded position ${point.position}; synced data was lost`,
          { details: { segment: path, offset: size, coreId } },
        );
      const scan = await scanCoreRange(
        this.io,
        fd,
        path,
        point.position,
        size,
        { coreId, previousSequence: point.sequence },
        into === undefined ? undefined : (entry) => into.push(entry),
      );
      if (scan.stop.kind === 'corrupt')
        throw new WalError(
          WalErrorCode.CORRUPT,
          `${path} (core ${coreId}): damage at offset ${scan.stop.offset} (${scan.stop.reason}) is followed by valid entries; this is mid-file corruption, not a torn tail. Restore the file from a replica or backup.`,
          { details: { segment: path, offset: scan.stop.offset, coreId } },
        );
      const last = scan.lastEntry;
      const end: ResumePoint = last
        ? {
            position: scan.end,
            sequence: last.sequence,
            epoch: last.epoch,
            timestampNs: last.timestampNs,
          }
        : {
            position: point.position,
            sequence: point.sequence,
            epoch: point.epoch,
            timestampNs: point.timestampNs,
          };
      return { end, stop: scan.stop };
    } finally {
      await this.io.close(fd);
    }
  }

  private async coreIdsOnDisk(): Promise<Set<number>> {
    const ids = new Set<number>();
    for (const name of await this.io.readdir(this.baseDir)) {
      const id = this.pattern.coreIdOf(name);
      if (id !== null) ids.add(id);
    }
    return ids;
  }

  private assertOpen(): void {
    if (this.closed)
      throw new WalError(WalErrorCode.CLOSED, `the per-core logs in ${this.baseDir} are closed`);
  }
}

async function withCore<T>(coreId: number, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof WalError && error.details.coreId === undefined)
      error.details.coreId = coreId;
    throw error;
  }
}

function checkConfig(config: PerCoreWalManagerConfig): void {
  if (typeof config !== 'object' || config === null)
    invalidArgument('config must be an object with baseDir and numCores');
  if (typeof config.baseDir !== 'string' || config.baseDir === '')
    invalidArgument(`config.baseDir must be a directory path`);
  const n = config.numCores;
  if (!Number.isInteger(n) || n < 1 || n > 0x10000)
    badArgument('config.numCores', 'an integer from 1 to 65536', n);
  const t = config.requestTimeoutMs;
  if (t !== undefined && (!Number.isFinite(t) || t <= 0))
    badArgument('config.requestTimeoutMs', '> 0', t);
}

function ioFrom(config: PerCoreWalManagerConfig): { io: StorageIo; ownsIo: boolean } {
  return config.io ? { io: config.io, ownsIo: false } : { io: createStorageIo(), ownsIo: true };
}

function writerOptions(config: PerCoreWalManagerConfig, io: StorageIo) {
  return { io, clock: config.clock, bufferSize: config.bufferSize };
}

async function mkdirs(io: StorageIo, dir: string): Promise<void> {
  if ((await io.stat(dir)) === null) await io.mkdir(dir);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
