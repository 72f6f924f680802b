import { jsonReady } from '@walnut/codec';
import type { RecoveryReport } from '@walnut/segmented';
import type { LogEngine } from './engine.js';
import type { BackendInfo } from './internal/channels.js';
import type { LatencyHistogram } from './internal/commit/latency-histogram.js';
import type { Durability } from './options.js';
import type { RetentionStats } from './retention/retention.js';

export type WalState = 'init' | 'running' | 'draining' | 'closed';

export interface WalStats {
  state: WalState;
  /** Opened with `readOnly()`: the LSNs are what this reader has found in the log. */
  readOnly: boolean;
  durability: Durability;
  /** Single-record appends accepted (each record of an `appendMany` list counts as one). */
  appends: number;
  /** Atomic batches accepted. */
  batches: number;
  /** Records accepted (single appends plus every record of every batch). */
  records: number;
  /** Payload plus meta bytes accepted. */
  bytes: number;
  /** Completed fdatasyncs that made new records durable (group commits, `sync()`, interval, shutdown). */
  syncs: number;
  /** Writes to the OS the Wal asked for without a sync. */
  flushes: number;
  /** Records made durable per sync, on average. */
  recordsPerSync: number;
  /** Payload+meta bytes appended but not yet committed (the bounded queue). */
  queueBytes: number;
  maxQueueBytes: number;
  /** Appends waiting for their commit. */
  pendingAppends: number;
  /** Appends waiting for room in the queue (backpressure 'block'). */
  blockedAppends: number;
  /** Appends rejected (backpressure, failures, close). */
  rejectedAppends: number;
  /** Time from `append` to its acknowledgement, for appends that wait for a commit. */
  commitLatencyMicros: { p50: number; p99: number; count: number };
  /** The StorageIo backend in use, why it was chosen, and what was asked for. */
  backend: BackendInfo;
  /** Segments created by this process (`segments()` lists those on disk). */
  segmentsCreated: number;
  /** The storage engine's own counters (SegmentedWal: writes, bytesWritten, syncs, rollbacks…). */
  storage: Readonly<Record<string, unknown>>;
  activeSegmentFirstLsn: bigint;
  floorLsn: bigint;
  lastLsn: bigint;
  writtenLsn: bigint;
  durableLsn: bigint;
  poisoned: boolean;
  /** The retention settings and what passes deleted (null without `retention()`). */
  retention: RetentionStats | null;
  /**
   * Cursor writes: rounds on disk, cursor files written by them (many commits share a
   * round; each file is one slot write and one fdatasync), and how many of those files were
   * written whole instead (created, migrated from the first layout, or after a failed write).
   */
  cursorCommits: { rounds: number; filesWritten: number; filesReplaced: number };
  /** What opening the log cut, dropped or removed, counted (`Wal.recovery` has the details). */
  recovery: {
    /** Bytes of a torn tail cut from the last segment (or found, read-only). */
    tornTailBytes: number;
    /** Damaged stretches or segments `recovery('salvage')` dropped, and their bytes. */
    salvagedParts: number;
    salvagedBytes: number;
    /** LSNs this open's salvage recorded as lost (each listed in `Wal.recovery.gaps`). */
    lostLsns: number;
    /** Leftover files removed: unfinished segment creations, segments below the floor. */
    removedFiles: number;
  };
}

/** @internal What a Wal counts for `stats()` (`rejected` is `rejectedAppends`). */
export type WalCounters = Pick<
  WalStats,
  'appends' | 'batches' | 'records' | 'bytes' | 'syncs' | 'flushes'
> & { syncedRecords: number; rejected: number };

/** @internal A Wal's counters as it opens. */
export function newCounters(): WalCounters {
  return {
    appends: 0,
    batches: 0,
    records: 0,
    bytes: 0,
    syncs: 0,
    flushes: 0,
    syncedRecords: 0,
    rejected: 0,
  };
}

/** @internal What the Wal itself knows for `stats()`, beside its counters and its engine. */
export type WalSide = Readonly<
  Pick<
    WalStats,
    | 'state'
    | 'readOnly'
    | 'durability'
    | 'queueBytes'
    | 'maxQueueBytes'
    | 'pendingAppends'
    | 'blockedAppends'
    | 'lastLsn'
    | 'poisoned'
    | 'retention'
    | 'cursorCommits'
  > & { backendChoice: string }
>;

/** @internal The backend the engine's StorageIo runs on, and what was asked for. */
export function backendOf(engine: LogEngine, requested: string): BackendInfo {
  const description = engine.io.describe();
  return { name: description.backend, reason: description.reason, requested };
}

/** @internal `Wal.stats()`: the Wal's side, its counters, and what the engine reports. */
export function statsSnapshot(
  engine: LogEngine,
  counters: WalCounters,
  latency: LatencyHistogram,
  wal: WalSide,
): WalStats {
  const syncs = counters.syncs;
  const storage = (engine.stats?.() ?? {}) as Record<string, unknown>;
  return jsonReady<WalStats>({
    state: wal.state,
    readOnly: wal.readOnly,
    durability: wal.durability,
    appends: counters.appends,
    batches: counters.batches,
    records: counters.records,
    bytes: counters.bytes,
    syncs,
    flushes: counters.flushes,
    recordsPerSync: syncs === 0 ? 0 : counters.syncedRecords / syncs,
    queueBytes: wal.queueBytes,
    maxQueueBytes: wal.maxQueueBytes,
    pendingAppends: wal.pendingAppends,
    blockedAppends: wal.blockedAppends,
    rejectedAppends: counters.rejected,
    commitLatencyMicros: {
      p50: latency.percentile(0.5),
      p99: latency.percentile(0.99),
      count: latency.count,
    },
    backend: backendOf(engine, wal.backendChoice),
    segmentsCreated: typeof storage.segmentsCreated === 'number' ? storage.segmentsCreated : 0,
    storage,
    activeSegmentFirstLsn: engine.activeSegmentFirstLsn,
    floorLsn: engine.floorLsn,
    lastLsn: wal.lastLsn,
    writtenLsn: engine.writtenLsn,
    durableLsn: engine.durableLsn,
    poisoned: wal.poisoned,
    retention: wal.retention,
    cursorCommits: wal.cursorCommits,
    recovery: recoveryCounts(engine.recoveryReport),
  });
}

/** What opening did, counted (the details are in `Wal.recovery`). */
function recoveryCounts(report: RecoveryReport): WalStats['recovery'] {
  let salvagedBytes = 0;
  let lostLsns = 0;
  for (const drop of report.salvaged) {
    salvagedBytes += drop.bytes;
    if (drop.lostLsns !== null) lostLsns += Number(drop.lostLsns.to - drop.lostLsns.from + 1n);
  }
  return {
    tornTailBytes: report.tornTail?.bytes ?? 0,
    salvagedParts: report.salvaged.length,
    salvagedBytes,
    lostLsns,
    removedFiles: report.removedFiles.length,
  };
}
