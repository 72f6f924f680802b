import {
  FRAME_HEADER_SIZE,
  gapsCover,
  type LsnGap,
  MAX_FRAME_BODY,
  MAX_LSN,
  mergeGaps,
} from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { MAX_SEGMENT_TARGET_SIZE } from '../config.js';
import { writeGaps } from '../files/gaps.js';
import type { RecoveryReport, SalvageDrop } from './recovery-report.js';

/** The fewest bytes one record takes in a segment: a batch entry with no payload. */
const MIN_RECORD_BYTES = 7;

/** The most LSNs one segment can hold: its largest target size plus one frame, at the fewest bytes a record. */
const MAX_LSNS_IN_A_SEGMENT = BigInt(
  Math.ceil((MAX_SEGMENT_TARGET_SIZE + FRAME_HEADER_SIZE + MAX_FRAME_BODY) / MIN_RECORD_BYTES),
);

export function lsnRange(from: bigint, to: bigint): LsnGap | null {
  return from <= to ? { from, to } : null;
}

/**
 * The LSNs a missing newest segment starting at `firstLsn` took with it, from `from` (the
 * first after the last record found): its size is unknowable, so every LSN the largest
 * segment allowed could have held.
 */
export function lsnsOfMissingNewest(from: bigint, firstLsn: bigint): LsnGap {
  const to = firstLsn + MAX_LSNS_IN_A_SEGMENT - 1n;
  return { from, to: to > MAX_LSN ? MAX_LSN : to };
}

/**
 * What one recovery found and changed so far: the report it hands back, the LSN ranges
 * lost (this salvage's and every earlier one's, from GAPS), and whether the directory
 * changed. recoverLog's steps record into it; `finish` makes what they changed durable.
 */
export class RecoveryLedger {
  private readonly newGaps: LsnGap[] = [];

  constructor(
    private readonly io: StorageIo,
    private readonly dir: string,
    readonly report: RecoveryReport,
    private readonly knownGaps: LsnGap[],
    private dirChanged: boolean,
  ) {}

  /** Whether every LSN of `from..to` is recorded as lost, by an earlier salvage or this one. */
  recorded(from: bigint, to: bigint): boolean {
    return gapsCover(this.knownGaps, from, to) || gapsCover(mergeGaps(this.newGaps), from, to);
  }

  /** Whether any LSN of `from..to` is recorded as lost. */
  touches(from: bigint, to: bigint): boolean {
    const all = [...this.knownGaps, ...this.newGaps];
    return all.some((gap) => gap.from <= to && gap.to >= from);
  }

  /** Reports a stretch salvage gave up, and records the LSNs lost with it. */
  lose(drop: SalvageDrop): void {
    this.report.salvaged.push(drop);
    if (drop.lostLsns !== null) this.newGaps.push(drop.lostLsns);
  }

  /** Reports whole files given up; a writer renames each to `<name>.dropped`, never deletes it. */
  async dropFiles(paths: readonly string[], reason: string, move: boolean): Promise<void> {
    for (const path of paths) {
      const drop: SalvageDrop = {
        segment: path,
        offset: 0,
        bytes: (await this.io.stat(path))?.size ?? 0,
        reason,
        lostLsns: null,
      };
      if (move) {
        drop.movedTo = `${path}.dropped`;
        await this.io.rename(path, drop.movedTo);
        this.dirChanged = true;
      }
      this.report.salvaged.push(drop);
    }
  }

  /**
   * The last segment was unreadable, so how many LSNs it held is unknown. Handing them out
   * again would give acknowledged records' LSNs to new ones; instead every LSN it could have
   * held (one per 7 bytes, the smallest a record takes: an empty batch entry) is recorded as
   * lost with its drop (the last reported) and numbering goes on after them.
   */
  retireLsnsOf(firstLsn: bigint, fileSize: number): void {
    const last = firstLsn + BigInt(Math.max(1, Math.floor(fileSize / MIN_RECORD_BYTES))) - 1n;
    const drop = this.report.salvaged[this.report.salvaged.length - 1]!;
    drop.lostLsns = { from: firstLsn, to: last };
    drop.reason += `; LSNs ${firstLsn}..${last} (every LSN its ${fileSize} bytes could hold) are retired`;
    this.newGaps.push(drop.lostLsns);
  }

  /** A file was removed, written or renamed: the directory needs an fsync. */
  changedDirectory(): void {
    this.dirChanged = true;
  }

  /**
   * Writes GAPS when this recovery lost LSNs (a writer), else fsyncs the directory if it
   * changed; returns every gap of the log at or above `floorLsn`.
   */
  async finish(floorLsn: bigint, readOnly: boolean): Promise<LsnGap[]> {
    const gaps = mergeGaps(this.knownGaps, this.newGaps).filter((gap) => gap.to >= floorLsn);
    if (this.newGaps.length > 0 && !readOnly) await writeGaps(this.io, this.dir, gaps);
    else if (this.dirChanged) await this.io.syncDirectory(this.dir);
    return gaps;
  }
}
