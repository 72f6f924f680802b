import type { KeyRing, SuffixCut } from '@walnut/codec';
import { WalError, WalErrorCode } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import type { Counters } from '../stats.js';
import { type CutSegment, planCut, readCut } from './cut-after.js';
import { readGaps } from './gaps.js';
import { isNamed, type Segment } from './segment.js';

export interface TruncateAfterResult {
  /** The log's last LSN now; the next append gets the one after it. */
  afterLsn: bigint;
  /** How many LSNs the cut removed (0n when `afterLsn` was already the last). */
  recordsRemoved: bigint;
  /** Segment files deleted whole. */
  segmentsDeleted: number;
}

/**
 * A cut point must keep the log's floor reachable and lie within the log: from `floorLsn - 1`
 * (the cut removes every record, the next append gets the floor) up to the last LSN.
 */
export function checkCutPoint(lsn: bigint, floorLsn: bigint, lastLsn: bigint): void {
  if (lsn > lastLsn) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `cannot cut after LSN ${lsn}: the log ends at LSN ${lastLsn}; pass an LSN from ${floorLsn - 1n} to ${lastLsn}`,
      { details: { lsn, lastLsn } },
    );
  }
  if (lsn < floorLsn - 1n) {
    throw new WalError(
      WalErrorCode.REPLAY_BELOW_FLOOR,
      `cannot cut after LSN ${lsn}: the records below ${floorLsn} were truncated already (truncateBefore); the lowest cut is after ${floorLsn - 1n}, which removes every record`,
      { details: { lsn, floorLsn } },
    );
  }
}

/** What an append or another cut gets while truncateAfter runs. */
export function cutRunningError(what: string): WalError {
  return new WalError(
    WalErrorCode.BAD_STATE,
    `${what} is refused while truncateAfter runs; await it, then ${what} again (the next LSN is the one after the cut)`,
  );
}

/**
 * The cut that keeps the records up to `afterLsn` of a log whose segments are `segments`
 * (every record in them durable), with the next generation number.
 */
export async function planSuffixCut(
  io: StorageIo,
  dir: string,
  ring: KeyRing | undefined,
  segments: readonly Segment[],
  afterLsn: bigint,
): Promise<SuffixCut> {
  const named: CutSegment[] = segments.filter(isNamed).map((s) => ({
    firstLsn: s.firstLsn,
    path: s.path,
    header: s.header,
    lastLsn: s.lastLsn,
    dataEnd: s.completedEnd,
  }));
  const previous = await readCut(io, dir);
  const where = await planCut(io, ring, named, await readGaps(io, dir), afterLsn);
  return { afterLsn, ...where, generation: (previous?.generation ?? 0n) + 1n, state: 'pending' };
}

/** The running totals of the counters the log had before it reopened after a cut, added to the new ones. */
export function carryCounters(from: Counters, to: Counters): void {
  const source = from as unknown as Record<string, unknown>;
  const target = to as unknown as Record<string, unknown>;
  for (const key of Object.keys(target)) {
    const value = source[key];
    if (typeof value === 'number' && typeof target[key] === 'number') {
      target[key] = (target[key] as number) + value;
    }
  }
}
