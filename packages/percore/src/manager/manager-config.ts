import { badArgument, checkOptionKeys, invalidArgument, pathOption } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import type { Clock } from '../write/clock.js';
import type { CoreWalWriterOptions } from '../write/core-wal-writer-options.js';

export interface PerCoreWalManagerConfig {
  /** The directory of the per-core logs: a path, or a `file:` URL. */
  readonly baseDir: string | URL;
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
  /**
   * `create` only: make the logs in a directory that holds other files. Without it, a
   * directory with anything but per-core logs in it (a segmented log, a project folder) is
   * refused with WAL_NOT_A_LOG and nothing is written there. Default false.
   */
  readonly allowOtherFiles?: boolean;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Every field of the config; the type makes a field added above be added here too. */
const OPTIONS: Record<keyof PerCoreWalManagerConfig, true> = {
  baseDir: true,
  numCores: true,
  segmentPattern: true,
  io: true,
  clock: true,
  bufferSize: true,
  requestTimeoutMs: true,
  allowOtherFiles: true,
};
const OPTION_NAMES = Object.keys(OPTIONS);

/** A config checked by `checkConfig`: its directory is a path. */
export type CheckedConfig = Omit<PerCoreWalManagerConfig, 'baseDir'> & { readonly baseDir: string };

export function checkConfig(config: PerCoreWalManagerConfig): CheckedConfig {
  if (typeof config !== 'object' || config === null)
    invalidArgument('config must be an object with baseDir and numCores');
  checkOptionKeys(config, OPTION_NAMES, 'PerCoreWalManager.create() and open()');
  const baseDir = pathOption(config.baseDir, 'config.baseDir');
  const n = config.numCores;
  if (!Number.isInteger(n) || n < 1 || n > 0x10000)
    badArgument('config.numCores', 'an integer from 1 to 65536', n);
  const t = config.requestTimeoutMs;
  if (t !== undefined && (!Number.isFinite(t) || t <= 0))
    badArgument('config.requestTimeoutMs', '> 0', t);
  const others = config.allowOtherFiles;
  if (others !== undefined && typeof others !== 'boolean')
    badArgument('config.allowOtherFiles', 'a boolean', others);
  return { ...config, baseDir };
}

/** What every in-process writer of the manager is opened with. */
export function writerOptions(
  config: Pick<PerCoreWalManagerConfig, 'clock' | 'bufferSize'>,
  io: StorageIo,
): CoreWalWriterOptions & { io: StorageIo } {
  return { io, clock: config.clock, bufferSize: config.bufferSize };
}

/** The ids of the cores that have writers: 0 to numCores - 1. */
export function coreIds(numCores: number): number[] {
  return Array.from({ length: numCores }, (_, i) => i);
}
