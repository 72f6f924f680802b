import { type CoreEntry, type ScanStop, WalError } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { type CheckpointManifest, headerCheckpoint } from '../files/manifest.js';
import { mergeCoreEntries } from '../read/merge.js';
import { PerCoreWalReader } from '../read/reader.js';

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

/**
 * Reads the files of `coreIds` (in that order) from their manifest positions to their
 * current ends, stopping at a torn tail, and merges the entries. Mid-file damage is
 * `WAL_CORRUPT` naming the core.
 */
export async function recoverCores(from: {
  readonly io: StorageIo;
  readonly manifest: CheckpointManifest;
  readonly coreIds: readonly number[];
  readonly numCores: number;
  readonly corePath: (coreId: number) => string;
  readonly strayCores: readonly StrayCoreFile[];
}): Promise<RecoveryResult> {
  const { manifest } = from;
  const points = new Map(manifest.cores.map((c) => [c.coreId, c]));
  const cores: CoreRecovery[] = [];
  const lists: CoreEntry[][] = [];
  for (const coreId of from.coreIds) {
    const point = points.get(coreId) ?? headerCheckpoint(coreId);
    const path = from.corePath(coreId);
    const reader = await PerCoreWalReader.open(path, { io: from.io, coreId });
    try {
      const result = await withCore(coreId, () => reader.read({ from: point, unsyncedTail: true }));
      lists.push(result.entries);
      cores.push({
        coreId,
        path,
        from: result.from,
        end: result.end,
        stop: result.stop,
        count: result.entries.length,
        stray: coreId >= from.numCores,
      });
    } finally {
      await reader.close();
    }
  }
  return { manifest, entries: mergeCoreEntries(lists), cores, strayCores: from.strayCores };
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
