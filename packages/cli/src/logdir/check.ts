import { gapsCover, type LsnGap, segmentFileName, type WalRecord } from '@walnut/codec';
import {
  type FloorState,
  type LsnFileState,
  readFloor,
  readGaps,
  readHead,
  requireLogDirectory,
  type SegmentFile,
} from './directory.js';
import { anotherLogs, logIdSegment } from './log-id.js';
import { type SegmentScan, scanSegment } from './scan.js';

/** One finding of a log check. */
export interface Finding {
  /** corruption: data that should be readable is not. torn-tail: a crash's unfinished write at the very end, which recovery cuts. */
  readonly kind: 'corruption' | 'torn-tail' | 'missing-segment';
  readonly segment: string;
  /** File offset, when the finding is about a place in the file. */
  readonly offset: number | null;
  readonly message: string;
  /**
   * A missing-segment finding between two segments: the LSNs no file holds, and the segment
   * before them, which ends at `from - 1` — cut short, or followed by a file that is gone.
   */
  readonly gap?: { readonly from: bigint; readonly to: bigint; readonly endsEarly: string };
}

export interface LogCheck {
  readonly dir: string;
  readonly segments: readonly SegmentScan[];
  readonly floor: FloorState;
  /** The first LSN of the newest segment a writer created, from HEAD. */
  readonly head: LsnFileState;
  /** LSNs an earlier salvage recorded as lost: holes there are known, not missing segments. */
  readonly gaps: readonly LsnGap[];
  readonly findings: readonly Finding[];
  readonly totalBytes: number;
  /** Records read; encrypted frames hold more, which cannot be counted without the key. */
  readonly records: number;
  /** Frames that are encrypted: CRC checked, records and LSNs unreadable. */
  readonly encryptedFrames: number;
  readonly firstLsn: bigint | null;
  readonly lastLsn: bigint | null;
}

export interface CheckOptions {
  /** Called with (bytes done, bytes total, current segment name). */
  readonly onProgress?: (done: number, total: number, segment: string) => void;
  readonly onRecord?: (record: WalRecord, segment: SegmentFile, frameOffset: number) => void;
}

/** Scans every segment of a log directory and relates them: order, gaps, the floor, HEAD. */
export async function checkLog(dir: string, options: CheckOptions = {}): Promise<LogCheck> {
  // Before listing: a writer records a segment in HEAD only once it is in the directory.
  const head = await readHead(dir);
  const files = await requireLogDirectory(dir);
  const floor = await readFloor(dir);
  const gapsState = await readGaps(dir);
  const gaps = gapsState.kind === 'valid' ? gapsState.gaps : [];
  const totalBytes = files.reduce((sum, f) => sum + f.sizeBytes, 0);
  const findings: Finding[] = [];
  const segments: SegmentScan[] = [];
  let before = 0;
  for (const [index, file] of files.entries()) {
    const isLast = index === files.length - 1;
    const base = before;
    const scan = await scanSegment(file, {
      newest: isLast,
      onProgress: (offset) => options.onProgress?.(base + offset, totalBytes, file.name),
      onRecord: options.onRecord && ((record, offset) => options.onRecord?.(record, file, offset)),
    });
    before += file.sizeBytes;
    segments.push(scan);
    // An unreadable header is also a damaged range of the scan's (which repair uses): one finding.
    if (scan.headerProblem && (scan.header !== null || scan.damage.length === 0)) {
      findings.push({
        kind: 'corruption',
        segment: file.name,
        offset: 0,
        message: scan.headerProblem,
      });
    }
    for (const d of scan.damage) {
      const tornAtEnd = d.kind === 'torn' && isLast;
      findings.push({
        kind: tornAtEnd ? 'torn-tail' : 'corruption',
        segment: file.name,
        offset: d.offset,
        message: tornAtEnd
          ? `torn tail: ${d.end - d.offset} bytes of an unfinished write (${d.reason}); the next open cuts them`
          : `${d.end - d.offset} damaged bytes (${d.reason})${d.kind === 'torn' ? ' at the end of a sealed segment' : ''}${d.lostLsns ? `; LSNs ${d.lostLsns} lost in them` : ''}`,
      });
    }
    for (const message of scan.lsnProblems) {
      findings.push({ kind: 'corruption', segment: file.name, offset: null, message });
    }
    const previous = segments[index - 1];
    if (
      previous?.lastLsn != null &&
      file.firstLsn !== previous.lastLsn + 1n &&
      !(
        file.firstLsn > previous.lastLsn &&
        gapsCover(gaps, previous.lastLsn + 1n, file.firstLsn - 1n)
      )
    ) {
      findings.push({
        kind: 'missing-segment',
        segment: file.name,
        offset: null,
        message: `the previous segment ends at LSN ${previous.lastLsn}, this one starts at ${file.firstLsn}: LSNs ${previous.lastLsn + 1n}..${file.firstLsn - 1n} are missing`,
        gap: {
          from: previous.lastLsn + 1n,
          to: file.firstLsn - 1n,
          endsEarly: previous.file.name,
        },
      });
    }
  }
  findings.push(...foreignSegments(files, segments, head));
  const withRecords = segments.filter((s) => s.firstLsn !== null);
  const lastLsn = withRecords.at(-1)?.lastLsn ?? null;
  const newest = files[files.length - 1]!;
  if (head.kind === 'valid' && newest.firstLsn < head.lsn && !gapsCover(gaps, head.lsn, head.lsn)) {
    findings.push({
      kind: 'missing-segment',
      segment: segmentFileName(head.lsn),
      offset: null,
      message: `HEAD says the newest segment starts at LSN ${head.lsn}, but the newest here is ${newest.name}: the newest segment is missing${lastLsn === null ? '' : `, with any record after LSN ${lastLsn}`}`,
    });
  }
  if (head.kind === 'damaged') {
    findings.push({ kind: 'corruption', segment: 'HEAD', offset: null, message: head.reason });
  }
  if (floor.kind === 'damaged') {
    findings.push({ kind: 'corruption', segment: 'FLOOR', offset: null, message: floor.reason });
  }
  if (gapsState.kind === 'damaged') {
    findings.push({ kind: 'corruption', segment: 'GAPS', offset: null, message: gapsState.reason });
  }
  return {
    dir,
    segments,
    floor,
    head,
    gaps,
    findings,
    totalBytes,
    records: segments.reduce((sum, s) => sum + s.records, 0),
    encryptedFrames: segments.reduce((sum, s) => sum + s.encryptedFrames, 0),
    firstLsn: withRecords[0]?.firstLsn ?? null,
    lastLsn,
  };
}

export function isCorrupt(check: LogCheck): boolean {
  return check.findings.some((f) => f.kind !== 'torn-tail');
}

/**
 * Segments whose header names another log than this log's (a segment of another log copied
 * in under a name of this one), judged as the library's open judges them (`logIdSegment`).
 */
function foreignSegments(
  files: readonly SegmentFile[],
  scans: readonly SegmentScan[],
  head: LsnFileState,
): Finding[] {
  const reference = scans[logIdSegment(files, head)]?.header;
  if (reference == null || reference.version < 2) return [];
  const findings: Finding[] = [];
  for (const [index, scan] of scans.entries()) {
    const message =
      scan.header === null ? null : anotherLogs(scan.header, files[index]!.path, reference.logId);
    if (message !== null)
      findings.push({ kind: 'corruption', segment: files[index]!.name, offset: null, message });
  }
  return findings;
}
