import { ExitCode } from '../exit-codes.js';
import { formatBytes, formatCount, formatDuration } from '../format.js';
import { printJson } from '../json.js';
import { checkLog, type Finding, isCorrupt, type LogCheck } from '../logdir/check.js';
import { fromCodeWithKey, isEncryptedScan } from '../logdir/encrypted.js';
import { type Output, printLine } from '../output.js';
import { startProgress } from '../progress.js';

export interface VerifyOptions {
  readonly json?: boolean;
}

/**
 * `walnut verify <dir>`: checks every frame of every segment. Exit 1 when anything but a
 * torn tail is found (a torn tail is what a crash leaves and what the next open cuts).
 */
export async function verifyCommand(
  dir: string,
  options: VerifyOptions,
  out: Output,
): Promise<number> {
  const started = performance.now();
  const progress = options.json
    ? null
    : startProgress(out, {
        total: 100,
        barFormat: 'verify |{bar}| {percentage}% | {bytesDone} of {bytesTotal} | {segment}',
        initial: { bytesDone: '0 B', bytesTotal: '…', segment: '' },
        plainLine: (value, f) =>
          `verify: ${value}% (${f.bytesDone ?? '0 B'} of ${f.bytesTotal ?? '?'}) ${f.segment ?? ''}`,
      });
  let check: LogCheck;
  try {
    check = await checkLog(dir, {
      onProgress: (done, total, segment) =>
        progress?.update(total === 0 ? 100 : Math.floor((done / total) * 100), {
          bytesDone: formatBytes(done),
          bytesTotal: formatBytes(total),
          segment,
        }),
    });
  } finally {
    progress?.stop();
  }
  const corrupt = isCorrupt(check);
  const elapsed = performance.now() - started;
  if (options.json) {
    printJson(out.stdout, {
      dir,
      ok: !corrupt,
      segments: check.segments.length,
      // Without the key the records of encrypted frames cannot be counted: null, not a guess.
      records: check.encryptedFrames > 0 ? null : check.records,
      encryptedFrames: check.encryptedFrames,
      bytes: check.totalBytes,
      firstLsn: check.firstLsn,
      lastLsn: check.lastLsn,
      gaps: check.gaps,
      findings: check.findings,
    });
    return corrupt ? ExitCode.CORRUPTION : ExitCode.OK;
  }
  for (const finding of check.findings) printLine(out.stdout, describeFinding(finding));
  for (const gap of check.gaps) {
    printLine(
      out.stdout,
      `note: LSNs ${gap.from}..${gap.to} are lost (damaged or missing); a salvage recorded them in GAPS`,
    );
  }
  const summary = `${check.segments.length} segment(s), ${describeContents(check)}, ${formatBytes(check.totalBytes)} in ${formatDuration(elapsed)}`;
  if (corrupt) {
    printLine(out.stdout, `CORRUPT: ${summary}`);
    printLine(
      out.stdout,
      check.segments.some(isEncryptedScan)
        ? `This log is encrypted: ${fromCodeWithKey('repair', dir)}.`
        : `Run \`walnut repair ${dir} --salvage\` to keep every intact record (it backs up what it changes first).`,
    );
    return ExitCode.CORRUPTION;
  }
  printLine(out.stdout, `OK: ${summary}`);
  return ExitCode.OK;
}

/** What was read: records and their LSNs, and encrypted frames, whose records are unknown. */
function describeContents(check: LogCheck): string {
  const range = check.firstLsn === null ? '' : ` (LSN ${check.firstLsn} .. ${check.lastLsn})`;
  const records = `${formatCount(check.records)} records${range}`;
  if (check.encryptedFrames === 0) return records;
  const encrypted = `${formatCount(check.encryptedFrames)} encrypted frames (CRC checked; their records and LSNs cannot be read without the key, which the CLI does not take)`;
  return check.records === 0 ? encrypted : `${records} and ${encrypted}`;
}

export function describeFinding(f: Finding): string {
  const where = f.offset === null ? f.segment : `${f.segment} at offset ${f.offset}`;
  const label =
    f.kind === 'torn-tail' ? 'note' : f.kind === 'missing-segment' ? 'MISSING' : 'CORRUPT';
  return `${label}: ${where}: ${f.message}`;
}
