import type { DirectIoStats } from './direct-io.js';
import type { WritebackStats } from './writeback.js';
import type { ZeroFillStats } from './zero-fill.js';

export interface SegmentedWalStats {
  appends: number;
  batches: number;
  records: number;
  bytesAppended: number;
  bytesWritten: number;
  writes: number;
  shortWrites: number;
  syncs: number;
  segmentsCreated: number;
  rollbacks: number;
  /** Writes submitted and not completed yet. */
  writesInFlight: number;
  /** Bytes in the write buffer, not yet submitted. */
  bufferedBytes: number;
  /** Write buffers allocated because the pool had none free (the rest were reused). */
  bufferAllocations: number;
  /** Whether preallocation works on this backend (null until a segment was created with it). */
  preallocation: boolean | null;
  /** Zeros written ahead of the writer (config.zeroFillAhead). */
  zeroFill: ZeroFillStats;
  /** Writeback started ahead of fdatasync (config.writebackAhead). */
  writeback: WritebackStats;
  /** Whether segments are written with O_DIRECT (config.directIo), and why (not). */
  directIo: DirectIoStats;
}

/**
 * The counters the parts of the log add to (each part is handed this one object);
 * `stats()` fills in the live figures and adds the direct I/O verdict, fixed at open.
 */
export type Counters = Omit<SegmentedWalStats, 'directIo'>;

export function newCounters(): Counters {
  return {
    appends: 0,
    batches: 0,
    records: 0,
    bytesAppended: 0,
    bytesWritten: 0,
    writes: 0,
    shortWrites: 0,
    syncs: 0,
    segmentsCreated: 0,
    rollbacks: 0,
    writesInFlight: 0,
    bufferedBytes: 0,
    bufferAllocations: 0,
    preallocation: null,
    zeroFill: { state: 'off', fills: 0, bytes: 0, heldWrites: 0 },
    writeback: { state: 'off', ranges: 0, bytes: 0 },
  };
}

/**
 * The parts `statsOf` reads live figures from, by shape: the parts import `Counters` from
 * here, so this file names none of them (no import circle through the wiring).
 */
export interface LiveParts {
  counters: Counters;
  pipeline: {
    readonly writesInFlight: number;
    readonly bufferedBytes: number;
    readonly bufferAllocations: number;
  };
  zeroFill: { stats(): ZeroFillStats } | null;
  writeback: { stats(): WritebackStats } | null;
}

/** The counters with the live figures of the parts filled in, and the direct I/O verdict. */
export function statsOf(parts: LiveParts, directIo: DirectIoStats): SegmentedWalStats {
  const { counters, pipeline: p } = parts;
  return {
    ...counters,
    writesInFlight: p.writesInFlight,
    bufferedBytes: p.bufferedBytes,
    bufferAllocations: p.bufferAllocations,
    zeroFill: parts.zeroFill?.stats() ?? counters.zeroFill,
    writeback: parts.writeback?.stats() ?? counters.writeback,
    directIo: { ...directIo },
  };
}
