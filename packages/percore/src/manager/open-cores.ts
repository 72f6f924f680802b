import { join } from 'node:path';
import {
  type CoreEntry,
  classifyLogDirectory,
  invalidArgument,
  isWalError,
  type ScanStop,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import type { IoLock, StorageIo } from '@walnut/storage-io';
import { coreLockPath, isCoreLockName, lockCoresDirectory } from '../files/core-lock.js';
import {
  type CheckpointManifest,
  type CoreCheckpoint,
  headerCheckpoint,
  MANIFEST_FILE,
  readManifest,
  writeManifest,
} from '../files/manifest.js';
import { CorePathPattern, DEFAULT_SEGMENT_PATTERN } from '../files/paths.js';
import type { ResumePoint } from '../files/resume-point.js';
import { ioOrOwned } from '../owned-io.js';
import { mergeCoreEntries } from '../read/merge.js';
import { withoutCreateLeftovers } from '../recovery/create-leftovers.js';
import type { CoreRecovery, RecoveryResult, StrayCoreFile } from '../recovery/recovery.js';
import { scanFromCheckpoint } from '../recovery/scan-from-checkpoint.js';
import { CoreWalWriter } from '../write/core-wal-writer.js';
import {
  type CheckedConfig,
  checkConfig,
  coreIds,
  type PerCoreWalManagerConfig,
  writerOptions,
} from './manager-config.js';

const LOCK_FILE = 'LOCK';

/** What `open` cut from the end of a core file, so that its writer appends after valid entries. */
export interface TailCut {
  readonly coreId: number;
  readonly path: string;
  /** Where the file ends now: the end of its last valid entry. */
  readonly offset: number;
  /** How many bytes were cut. */
  readonly bytes: number;
  /** Why reading stopped there: `torn` (an interrupted write, a hole of lost writes) or `eof` (zeros after the last entry). */
  readonly stop: ScanStop;
}

/** A directory's cores, locked, checked and with a writer each: what a manager is built from. */
export interface OpenedCores {
  /** The directory, as a path. */
  readonly baseDir: string;
  readonly io: StorageIo;
  /** The StorageIo was created here (no config.io): closing the manager closes it. */
  readonly ownsIo: boolean;
  readonly lock: IoLock;
  readonly pattern: CorePathPattern;
  readonly manifest: CheckpointManifest;
  /** An in-process writer for every core below numCores, at the valid end of its file. */
  readonly writers: Map<number, CoreWalWriter>;
  /** Valid ends of the files of cores ≥ numCores (never written, only covered by checkpoints). */
  readonly strayEnds: Map<number, ResumePoint>;
  readonly stray: StrayCoreFile[];
  /** The global epoch to continue from. */
  readonly epoch: bigint;
  /** What the files held after the checkpoint, when opening was asked to collect it. */
  readonly recovery: RecoveryResult | null;
  /** The tails cut from the files of cores below numCores (stray files are never cut). */
  readonly tailsCut: TailCut[];
}

/**
 * Creates the directory's logs: one file per core and a manifest at checkpoint 0, epoch 0.
 * `WAL_BAD_STATE` if the directory already holds a manifest or core files (other than what
 * an earlier create cut short left: see withoutCreateLeftovers).
 */
export async function createCores(userConfig: PerCoreWalManagerConfig): Promise<OpenedCores> {
  const config = checkConfig(userConfig);
  const { io, ownsIo } = ioOrOwned(config.io);
  const pattern = new CorePathPattern(config.segmentPattern ?? DEFAULT_SEGMENT_PATTERN);
  let lock: IoLock | null = null;
  const writers = new Map<number, CoreWalWriter>();
  /** The core whose file is being created: set only once the directory is known to be ours. */
  let creating: number | null = null;
  try {
    if ((await io.stat(config.baseDir)) === null) await io.mkdir(config.baseDir);
    refuseOtherFiles(config, pattern, await io.readdir(config.baseDir));
    lock = await lockCoresDirectory(io, join(config.baseDir, LOCK_FILE));
    const names = await io.readdir(config.baseDir);
    const existing = await withoutCreateLeftovers(io, config.baseDir, pattern, names);
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
      cores: coreIds(config.numCores).map((coreId) => headerCheckpoint(coreId)),
    };
    for (const coreId of coreIds(config.numCores)) {
      creating = coreId;
      writers.set(
        coreId,
        await CoreWalWriter.create(
          coreId,
          pattern.path(config.baseDir, coreId),
          writerOptions(config, io),
        ),
      );
    }
    creating = null;
    await writeManifest(io, config.baseDir, manifest);
    return {
      baseDir: config.baseDir,
      io,
      ownsIo,
      lock,
      pattern,
      manifest,
      writers,
      strayEnds: new Map(),
      stray: [],
      epoch: manifest.epoch,
      recovery: null,
      tailsCut: [],
    };
  } catch (error) {
    // The files made so far hold only headers and no manifest names them: they go, so that
    // create can be tried again (left behind, both create and open would refuse the directory).
    // Only this call's own: before it held the directory's lock and found no logs, every lock
    // sidecar here may be a live writer's (a worker's, or another process's), and removing
    // one lets a second writer in to cut what the first appended.
    const made = [...writers.keys()];
    for (const writer of writers.values()) {
      await writer.close().catch(() => {});
      await io.unlink(writer.path).catch(() => {});
    }
    if (creating !== null && !isWalError(error, WalErrorCode.LOCKED)) made.push(creating);
    for (const coreId of made)
      await io.unlink(coreLockPath(pattern.path(config.baseDir, coreId))).catch(() => {});
    await lock?.release().catch(() => {});
    if (ownsIo) await io.closeIo();
    throw error;
  }
}

/**
 * WAL_NOT_A_LOG for a directory holding what per-core logs never hold (a segmented log,
 * someone else's files), unless the caller allowed other files: create must not scatter
 * core files and a lock among them.
 */
function refuseOtherFiles(config: CheckedConfig, pattern: CorePathPattern, names: string[]): void {
  if (config.allowOtherFiles === true) return;
  const listing = classifyLogDirectory(names);
  if (listing.kind === 'log') {
    throw new WalError(
      WalErrorCode.NOT_A_LOG,
      `${config.baseDir} holds a segmented log (a Wal's or SegmentedWal's segments): per-core logs need a directory of their own; choose an empty or missing one`,
      { details: { path: config.baseDir } },
    );
  }
  const isCoreFile = (name: string): boolean => pattern.coreIdOf(name) !== null;
  const others = listing.others.filter(
    (n) =>
      n !== MANIFEST_FILE &&
      n !== `${MANIFEST_FILE}.tmp` &&
      !isCoreFile(n) &&
      !isCoreLockName(n, isCoreFile),
  );
  if (others.length === 0) return;
  throw new WalError(
    WalErrorCode.NOT_A_LOG,
    `${config.baseDir} holds ${others.slice(0, 5).join(', ')}${others.length > 5 ? ` and ${others.length - 5} more` : ''}, which are not per-core logs; choose an empty or missing directory, or pass allowOtherFiles: true to create the logs among these files on purpose`,
    { details: { path: config.baseDir, found: others.slice(0, 20) } },
  );
}

/**
 * Opens existing logs: validates each core file from its manifest position, cuts a torn
 * tail (fsynced) and resumes a writer per core; with `collect`, the entries read on the way
 * are the recovery. Mid-file damage is `WAL_CORRUPT` naming the core, file and offset. Files
 * of cores ≥ numCores are kept and reported; cores added since the last run get new files.
 */
export async function openCores(
  userConfig: PerCoreWalManagerConfig,
  collect: boolean,
): Promise<OpenedCores> {
  const config = checkConfig(userConfig);
  const { io, ownsIo } = ioOrOwned(config.io);
  let lock: IoLock | null = null;
  const writers = new Map<number, CoreWalWriter>();
  try {
    // Checked first: locking would report the missing LOCK inside it instead.
    if ((await io.stat(config.baseDir)) === null)
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `${config.baseDir} does not exist, so it holds no per-core logs; create them with PerCoreWalManager.create (which makes the directory), or check baseDir`,
        { details: { path: config.baseDir } },
      );
    lock = await lockCoresDirectory(io, join(config.baseDir, LOCK_FILE));
    const manifest = await readManifest(io, config.baseDir);
    if (manifest === null)
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `${config.baseDir} has no ${MANIFEST_FILE}; create the logs with PerCoreWalManager.create`,
      );
    const pattern = new CorePathPattern(config.segmentPattern ?? manifest.segmentPattern);
    const corePath = (coreId: number): string => pattern.path(config.baseDir, coreId);
    const onDisk = await pattern.coreIdsIn(io, config.baseDir);
    const points = new Map(manifest.cores.map((c) => [c.coreId, c]));
    for (const coreId of points.keys())
      if (!onDisk.has(coreId) && pattern.pattern !== manifest.segmentPattern)
        invalidArgument(
          `segmentPattern ${JSON.stringify(pattern.pattern)} differs from ${JSON.stringify(manifest.segmentPattern)}, the one the logs in ${config.baseDir} were created with (recorded in ${MANIFEST_FILE}), and ${corePath(coreId)} does not exist; open with segmentPattern ${JSON.stringify(manifest.segmentPattern)}, or leave it out`,
        );
      else if (!onDisk.has(coreId))
        throw new WalError(
          WalErrorCode.MISSING_SEGMENT,
          `${corePath(coreId)} (core ${coreId}) is listed in the manifest but missing; restore it — its entries after checkpoint ${manifest.checkpointId} are not anywhere else`,
          { details: { segment: corePath(coreId), coreId } },
        );
    const cores: CoreRecovery[] = [];
    const lists: CoreEntry[][] = [];
    const tailsCut: TailCut[] = [];
    const scan = async (point: CoreCheckpoint): Promise<ResumePoint> => {
      const { coreId } = point;
      const entries: CoreEntry[] | undefined = collect ? [] : undefined;
      const scanned = await scanFromCheckpoint(
        io,
        corePath(coreId),
        point,
        manifest.checkpointId,
        entries,
      );
      if (entries !== undefined) {
        lists.push(entries);
        cores.push({
          coreId,
          path: corePath(coreId),
          from: point.position,
          end: scanned.end.position,
          stop: scanned.stop,
          count: entries.length,
          stray: coreId >= config.numCores,
        });
      }
      // Only writers cut (openAt below): a stray file's tail stays for recover() to report.
      const cut = scanned.size - scanned.end.position;
      if (cut > 0 && coreId < config.numCores)
        tailsCut.push({
          coreId,
          path: corePath(coreId),
          offset: scanned.end.position,
          bytes: cut,
          stop: scanned.stop,
        });
      return scanned.end;
    };
    for (const coreId of coreIds(config.numCores)) {
      const path = corePath(coreId);
      const options = writerOptions(config, io);
      if (!onDisk.has(coreId)) {
        writers.set(coreId, await CoreWalWriter.create(coreId, path, options));
        continue;
      }
      const end = await scan(points.get(coreId) ?? headerCheckpoint(coreId));
      writers.set(
        coreId,
        await CoreWalWriter.openAt(coreId, path, end.position, { ...options, from: end }),
      );
    }
    const strayEnds = new Map<number, ResumePoint>();
    const stray: StrayCoreFile[] = [];
    for (const coreId of [...onDisk].filter((id) => id >= config.numCores).sort((a, b) => a - b)) {
      const point = points.get(coreId) ?? headerCheckpoint(coreId);
      const end = await scan(point);
      strayEnds.set(coreId, end);
      stray.push({
        coreId,
        path: corePath(coreId),
        unreplayedBytes: end.position - point.position,
      });
    }
    // A crash between the barriers of a checkpoint and its manifest leaves entries of a
    // newer epoch than the manifest's: continue above them, so epochs keep increasing.
    let epoch = manifest.epoch;
    for (const writer of writers.values()) if (writer.epoch > epoch) epoch = writer.epoch;
    for (const end of strayEnds.values()) if (end.epoch > epoch) epoch = end.epoch;
    const recovery = collect
      ? { manifest, entries: mergeCoreEntries(lists), cores, strayCores: stray }
      : null;
    return {
      baseDir: config.baseDir,
      io,
      ownsIo,
      lock,
      pattern,
      manifest,
      writers,
      strayEnds,
      stray,
      epoch,
      recovery,
      tailsCut,
    };
  } catch (error) {
    for (const writer of writers.values()) await writer.close().catch(() => {});
    await lock?.release().catch(() => {});
    if (ownsIo) await io.closeIo();
    throw error;
  }
}
