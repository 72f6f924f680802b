import { gapsCover, type WalRecord } from '@walnut/codec';
import { ExitCode } from '../exit-codes.js';
import { lookBetweenCuts } from '../logdir/cut-looks.js';
import { readGaps, readHead, requireLogDirectory } from '../logdir/directory.js';
import { encryptedScanError } from '../logdir/encrypted.js';
import { followLog } from '../logdir/follow.js';
import { anotherLogs, logIdOf } from '../logdir/log-id.js';
import { scanSegment } from '../logdir/scan.js';
import { type Output, printLine } from '../output.js';
import { recordJson, recordLine } from '../records.js';

export interface TailOptions {
  /** Keep printing records as they are written. */
  readonly follow?: boolean;
  /** How many of the last records to print first (default 10). */
  readonly lines?: number;
  readonly json?: boolean;
  /** Stops following (the bin wires SIGINT to it). */
  readonly signal?: AbortSignal;
  readonly pollMs?: number;
}

/**
 * `walnut tail <dir> [-f]`: the last records, then with -f every new record as the writer
 * adds it. It reads the files (no lock), so it runs beside the writer. Records are shown
 * once written; a reader in another process cannot know which are already durable.
 */
export async function tailCommand(dir: string, options: TailOptions, out: Output): Promise<number> {
  const print = (record: WalRecord) =>
    printLine(out.stdout, options.json ? recordJson(record) : recordLine(record));
  const wanted = options.lines ?? 10;
  // Between two reads of the CUT file: a cut beside it would make the files look damaged.
  const { cut, result } = await lookBetweenCuts(dir, () => lastRecords(dir, wanted));
  const { last, damaged, active, nextLsn, logId } = result;
  for (const record of last) print(record);
  if (damaged !== null) {
    // A torn tail is what a crash leaves (the next open cuts it); anything else is not.
    printLine(
      out.stderr,
      `walnut: ${damaged}; the records shown are the readable ones. Run \`walnut verify ${dir}\` for every damaged place and \`walnut repair ${dir} --salvage\` to keep what is intact.`,
    );
    return ExitCode.CORRUPTION;
  }
  if (options.follow) {
    await followLog(
      dir,
      { segment: active, nextLsn, logId, cut },
      {
        onRecord: print,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.pollMs ? { pollMs: options.pollMs } : {}),
      },
    );
  }
  return ExitCode.OK;
}

/**
 * The last `wanted` records of the log in `dir`, with the first damage found among the
 * segments read, and where a follower goes on (the newest segment, the LSN after its last).
 */
async function lastRecords(dir: string, wanted: number) {
  // Before listing: a writer records a segment in HEAD only once it is in the directory.
  const head = await readHead(dir);
  const segments = await requireLogDirectory(dir);
  const logId = await logIdOf(segments, head);
  const gapsState = await readGaps(dir);
  const gaps = gapsState.kind === 'valid' ? gapsState.gaps : [];
  const last: WalRecord[] = [];
  let damaged: string | null = null;
  // Walk back from the newest segment until enough records are collected.
  let active = segments.at(-1)!;
  let nextLsn = active.firstLsn;
  for (
    let i = segments.length - 1;
    i >= 0 && (i === segments.length - 1 || last.length < wanted);
    i--
  ) {
    const found: WalRecord[] = [];
    let lastLsn: bigint | null = null;
    const scan = await scanSegment(segments[i]!, {
      newest: i === segments.length - 1,
      onRecord: (record) => {
        lastLsn = record.lsn;
        found.push(record);
        if (found.length > wanted) found.shift();
      },
    });
    const refusal = encryptedScanError(dir, scan, 'tail');
    if (refusal !== null) throw refusal;
    const foreign = scan.header === null ? null : anotherLogs(scan.header, scan.file.path, logId);
    if (foreign !== null) {
      // None of its records is this log's: none is shown (the readable ones around it are).
      damaged ??= foreign;
      continue;
    }
    if (i === segments.length - 1) {
      active = scan.file;
      if (lastLsn !== null) nextLsn = lastLsn + 1n;
    }
    const isLast = i === segments.length - 1;
    // A sealed segment must also hold every LSN up to its successor's first (decision 0311:
    // open no longer checks that; each reader does).
    const next = segments[i + 1];
    const end = scan.lastLsn ?? scan.file.firstLsn - 1n;
    const short =
      next !== undefined &&
      end + 1n < next.firstLsn &&
      !gapsCover(gaps, end + 1n, next.firstLsn - 1n)
        ? {
            offset: scan.validEnd,
            reason: `its records end at LSN ${end} but the next segment starts at ${next.firstLsn}`,
          }
        : undefined;
    const bad = scan.headerProblem
      ? { offset: 0, reason: scan.headerProblem }
      : (scan.damage.find((d) => d.kind === 'corrupt' || !isLast) ??
        (scan.lsnProblems.length > 0 ? { offset: null, reason: scan.lsnProblems[0]! } : short));
    if (bad !== undefined)
      damaged ??= `${scan.file.path} is damaged${bad.offset === null ? '' : ` at offset ${bad.offset}`} (${bad.reason})`;
    const missing = wanted - last.length;
    if (missing > 0) last.unshift(...found.slice(Math.max(0, found.length - missing)));
  }
  return { last, damaged, active, nextLsn, logId };
}
