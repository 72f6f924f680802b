import { basename } from 'node:path';
import type { RecoveryReport } from '@walnut/wal';
import type { LogFiles } from './damage.js';
import { cleanEndLsn, type FrameSpan, frameIntact } from './frames.js';

/** An undamaged log the fuzz starts from, and what it holds. */
export interface Template {
  name: string;
  encrypted: boolean;
  /** Every file of the log directory, by name. */
  files: LogFiles;
  /** Segment file names in LSN order. */
  segments: readonly string[];
  /** First LSN of each segment. */
  firstLsn: ReadonlyMap<string, number>;
  frames: ReadonlyMap<string, readonly FrameSpan[]>;
  /** Number of records (LSNs 1..records). */
  records: number;
}

/** A record a damaged log returned: its LSN and whether its bytes are the original's. */
export interface Found {
  lsn: number;
  matches: boolean;
}

export type Outcome =
  | {
      kind: 'refused';
      code: string | null;
      message: string;
      /** Records a replay handed out before it refused (decision 0311: readers are the check). */
      found?: readonly Found[];
    }
  | { kind: 'opened'; found: readonly Found[]; report: RecoveryReport };

export interface DefaultVerdict {
  /** refused: a WalError; unchanged: every record; cut: a reported torn tail of the last
   * segment; cut-clean: the last segment ends early where it reads as never written further. */
  verdict: 'refused' | 'unchanged' | 'cut' | 'cut-clean';
  code?: string;
  violations: string[];
}

export interface SalvageVerdict {
  refusedCode?: string;
  kept: number;
  /** Records whose frame (and its segment's header) the damage left byte for byte intact. */
  intact: number;
  /** Kept records whose frame the damage had touched (a frame whose CRC still matched). */
  keptDamaged: number;
  violations: string[];
}

function changedNothing(t: Template, damaged: LogFiles): boolean {
  if (damaged.size !== t.files.size) return false;
  for (const [name, bytes] of t.files) if (!damaged.get(name)?.equals(bytes)) return false;
  return true;
}

function checkFound(found: readonly Found[], violations: string[], contiguous: boolean): void {
  let previous = 0;
  for (const f of found) {
    if (!f.matches)
      violations.push(`LSN ${f.lsn} came back with bytes that are not the original's`);
    if (contiguous ? f.lsn !== previous + 1 : f.lsn <= previous) {
      violations.push(`LSN ${f.lsn} came after LSN ${previous}`);
    }
    previous = f.lsn;
  }
}

/** The last segment's clean end (see cleanEndLsn), or null. */
function lastCleanEnd(t: Template, damaged: LogFiles): number | null {
  const last = t.segments[t.segments.length - 1]!;
  return cleanEndLsn(
    t.files.get(last)!,
    damaged.get(last),
    t.frames.get(last)!,
    t.firstLsn.get(last)!,
  );
}

/**
 * The default recovery either refuses with a WalError, or returns exactly the original
 * records 1..k, where anything missing is a torn tail of the LAST segment that it reported
 * cutting, or lies past the point where that segment reads as never written further.
 */
export function judgeDefault(t: Template, damaged: LogFiles, outcome: Outcome): DefaultVerdict {
  const violations: string[] = [];
  if (outcome.kind === 'refused') {
    if (outcome.code === null)
      violations.push(`threw something that is not a WalError: ${outcome.message}`);
    if (changedNothing(t, damaged)) violations.push(`refused an undamaged log: ${outcome.message}`);
    // Before the damage it reports, a replay hands out 1..k exactly as written, never more.
    if (outcome.found !== undefined) checkFound(outcome.found, violations, true);
    return { verdict: 'refused', code: outcome.code ?? 'not a WalError', violations };
  }
  const { found, report } = outcome;
  checkFound(found, violations, true);
  if (report.salvaged.length > 0) {
    violations.push(
      `the default recovery dropped data as salvage does: ${JSON.stringify(report.salvaged.map((d) => d.reason))}`,
    );
  }
  const last = t.segments[t.segments.length - 1]!;
  const tornIn = report.tornTail === null ? null : basename(report.tornTail.segment);
  if (tornIn !== null && tornIn !== last) {
    violations.push(`a torn tail was cut in ${tornIn}, which is not the last segment`);
  }
  const k = found.length === 0 ? 0 : found[found.length - 1]!.lsn;
  if (k >= t.records) return { verdict: 'unchanged', violations };
  if (k + 1 < t.firstLsn.get(last)!) {
    violations.push(
      `opened with LSNs 1..${k} of ${t.records}: records outside the last segment (which starts at ${t.firstLsn.get(last)}) are gone`,
    );
    return { verdict: 'cut', violations };
  }
  if (tornIn !== null) return { verdict: 'cut', violations };
  if (lastCleanEnd(t, damaged) !== k) {
    violations.push(
      `opened with LSNs 1..${k} of ${t.records} and reported nothing, though the last segment does not end cleanly there (silently shorter)`,
    );
  }
  return { verdict: 'cut-clean', violations };
}

/** Every LSN range the report says was lost: the log's gaps and each dropped stretch's lostLsns. */
export function reportedRanges(report: RecoveryReport): [bigint, bigint][] {
  const ranges: [bigint, bigint][] = report.gaps.map((g) => [g.from, g.to]);
  for (const d of report.salvaged) if (d.lostLsns) ranges.push([d.lostLsns.from, d.lostLsns.to]);
  return ranges;
}

/**
 * Salvage returns only original records, in LSN order, and reports every LSN it lost: an
 * LSN range in the report (`gaps`, `salvaged[].lostLsns`) covers it, or it lies in the
 * torn tail the report says was cut from the last segment, or past the point where the
 * last segment reads as never written further. The share of intact records it kept is
 * measured, not judged.
 */
export function judgeSalvage(t: Template, damaged: LogFiles, outcome: Outcome): SalvageVerdict {
  const violations: string[] = [];
  let intact = 0;
  const intactLsn = new Uint8Array(t.records + 1);
  for (const seg of t.segments) {
    const original = t.files.get(seg)!;
    const now = damaged.get(seg);
    for (const span of t.frames.get(seg)!) {
      if (frameIntact(original, now, span)) {
        intact++;
        intactLsn[span.lsn] = 1;
      }
    }
  }
  if (outcome.kind === 'refused') {
    if (outcome.code === null)
      violations.push(`salvage threw something that is not a WalError: ${outcome.message}`);
    return {
      refusedCode: outcome.code ?? 'not a WalError',
      kept: 0,
      intact,
      keptDamaged: 0,
      violations,
    };
  }
  const { found, report } = outcome;
  checkFound(found, violations, false);
  const kept = new Uint8Array(t.records + 1);
  let keptDamaged = 0;
  for (const f of found) {
    if (f.lsn >= 1 && f.lsn <= t.records) kept[f.lsn] = 1;
    if (f.matches && f.lsn <= t.records && intactLsn[f.lsn] === 0) keptDamaged++;
  }
  const ranges = reportedRanges(report);
  const last = t.segments[t.segments.length - 1]!;
  const lastSpans = t.frames.get(last)!;
  const lastFirst = t.firstLsn.get(last)!;
  const torn =
    report.tornTail !== null && basename(report.tornTail.segment) === last ? report.tornTail : null;
  const cleanEnd = lastCleanEnd(t, damaged);
  const maxKept = found.length === 0 ? 0 : found[found.length - 1]!.lsn;
  const unreported: number[] = [];
  for (let lsn = 1; lsn <= t.records; lsn++) {
    if (kept[lsn] === 1) continue;
    const big = BigInt(lsn);
    if (ranges.some(([lo, hi]) => lo <= big && big <= hi)) continue;
    if (lsn >= lastFirst) {
      if (torn !== null && lastSpans[lsn - lastFirst]!.end > torn.offset) continue;
      // Past a clean end of the last segment: indistinguishable from never written.
      if (cleanEnd !== null && lsn > cleanEnd && maxKept <= cleanEnd) continue;
    }
    unreported.push(lsn);
  }
  if (unreported.length > 0) {
    violations.push(
      `salvage lost ${unreported.length} record(s) without reporting them (first LSN ${unreported[0]}, last ${unreported[unreported.length - 1]})`,
    );
  }
  return { kept: found.length, intact, keptDamaged, violations };
}
