import type { KeyRing, SuffixCut } from '@walnut/codec';
import { WalError, WalErrorCode } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import type { RecoveryMode } from '../config.js';
import { readGaps } from '../files/gaps.js';
import { isNamed, type Segment } from '../files/segment.js';
import { recoverLog } from '../recovery/recovery.js';
import type { RecoveryResult } from '../recovery/recovery-report.js';
import type { Counters } from '../write/stats.js';
import { type CutSegment, cutSuffix, planCut, readCut } from './cut-after.js';
import type { SuffixCuts } from './suffix-cuts.js';

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
      `cannot cut after LSN ${lsn}: the records below ${floorLsn} were deleted already (truncateBefore or retention); the lowest cut is after ${floorLsn - 1n}, which removes every record`,
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

/** What `cutAfter` asks of the log it cuts. */
export interface CutHost {
  readonly io: StorageIo;
  readonly dir: string;
  readonly mode: RecoveryMode;
  /** Where the cut is recorded for the replays running in this process. */
  readonly cuts: SuffixCuts;
  ring(): KeyRing | undefined;
  segments(): readonly Segment[];
  /** Makes every record appended so far durable; resolves with the last LSN. */
  sync(): Promise<bigint>;
  /** Lets every write, creation, fill and sync end and closes the files, keeping the lock. */
  quiesce(): Promise<void>;
  /** Goes on with the log as recovery found it after the cut. */
  reopen(recovered: RecoveryResult): Promise<void>;
  /** Poisons the log; returns the error to throw. */
  poison(err: unknown): unknown;
}

/**
 * `truncateAfter(lsn)` once its arguments were checked and appends refused: makes the log
 * durable, plans the cut, cuts the files with nothing in flight, and recovers the log as
 * open() would, under the lock the writer holds (docs/decisions/0340).
 */
export async function cutAfter(host: CutHost, lsn: bigint): Promise<TruncateAfterResult> {
  const { io, dir } = host;
  const last = await host.sync();
  if (lsn === last) return { afterLsn: lsn, recordsRemoved: 0n, segmentsDeleted: 0 };
  const cut = await planSuffixCut(io, dir, host.ring(), host.segments(), lsn);
  try {
    await host.quiesce();
    const segmentsDeleted = await cutSuffix(io, dir, cut);
    host.cuts.record(lsn);
    const ring = host.ring();
    await host.reopen(await recoverLog({ io, dir, mode: host.mode, readOnly: false, ring }));
    return { afterLsn: lsn, recordsRemoved: last - lsn, segmentsDeleted };
  } catch (err) {
    // Files half cut and closed: only an open (which finishes a recorded cut) goes on.
    throw host.poison(err);
  }
}

/**
 * The cut that keeps the records up to `afterLsn` of a log whose segments are `segments`
 * (every record in them durable), with the next generation number.
 */
async function planSuffixCut(
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
  // The cuts before it go on with it, so a reader that missed several learns the lowest.
  const recent = [...(previous?.recent ?? []), afterLsn];
  const generation = (previous?.generation ?? 0n) + 1n;
  return { afterLsn, ...where, generation, state: 'pending', recent };
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
