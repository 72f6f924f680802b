import { ExitCode } from '../exit-codes.js';
import { formatBytes, formatCount, formatKeyValues, formatTable } from '../format.js';
import { printJson } from '../json.js';
import { checkLog, isCorrupt, type LogCheck } from '../logdir/check.js';
import { type CursorFile, readCursors } from '../logdir/cursors.js';
import { type LockState, lockHolder } from '../logdir/lock-holder.js';
import { type RetentionState, readRetention } from '../logdir/retention.js';
import { type Output, printLine } from '../output.js';

export interface InspectOptions {
  readonly json?: boolean;
}

/** `walnut inspect <dir>`: segments, LSN ranges, sizes, encryption, floor, HEAD, lock holder. */
export async function inspectCommand(
  dir: string,
  options: InspectOptions,
  out: Output,
): Promise<number> {
  const check = await checkLog(dir);
  const lock = await lockHolder(dir);
  const cursors = await readCursors(dir);
  const retention = await readRetention(dir);
  const floorLsn =
    check.floor.kind === 'valid' ? check.floor.lsn : (check.segments[0]?.file.firstLsn ?? null);
  if (options.json) {
    printJson(out.stdout, {
      dir,
      segments: check.segments.map((s, i) => ({
        name: s.file.name,
        firstLsn: s.file.firstLsn,
        lastLsn: s.lastLsn,
        records: s.encryptedFrames > 0 ? null : s.records,
        encryptedFrames: s.encryptedFrames,
        sizeBytes: s.file.sizeBytes,
        sealed: i < check.segments.length - 1,
        cipher: s.header?.cipher ?? null,
        keyId: s.header?.cipher === 'aes-256-gcm' ? s.header.keyId : null,
        compressed: s.header?.compressed ?? null,
        createdAtMs: s.header?.createdAtMs ?? null,
        firstTime: s.firstTime,
        lastTime: s.lastTime,
      })),
      totalBytes: check.totalBytes,
      records: check.encryptedFrames > 0 ? null : check.records,
      encryptedFrames: check.encryptedFrames,
      firstLsn: check.firstLsn,
      lastLsn: check.lastLsn,
      floorLsn,
      floorSource:
        check.floor.kind === 'valid'
          ? 'FLOOR'
          : check.floor.kind === 'absent'
            ? 'first segment'
            : 'damaged',
      newestSegmentFirstLsn: check.head.kind === 'valid' ? check.head.lsn : null,
      lock,
      cursors: cursors.map((c) =>
        c.state.kind === 'valid'
          ? {
              name: c.name,
              lsn: c.state.lsn,
              behind: floorLsn !== null && c.state.lsn + 1n < floorLsn,
            }
          : { name: c.name, damaged: c.state.reason },
      ),
      retention:
        retention.kind === 'valid'
          ? retention.settings
          : retention.kind === 'damaged'
            ? { damaged: retention.reason }
            : null,
      problems: check.findings.length,
      corrupt: isCorrupt(check),
    });
    return exitCode(check);
  }
  printLine(out.stdout, `Log ${dir}`);
  printLine(
    out.stdout,
    formatKeyValues([
      ...summaryPairs(check, floorLsn, lock),
      ['cursors', describeCursors(cursors, floorLsn)],
      ['retention', describeRetention(retention)],
    ]),
  );
  printLine(out.stdout);
  printLine(
    out.stdout,
    formatTable(
      ['segment', 'first LSN', 'last LSN', 'records', 'size', 'state', 'encryption', 'appended'],
      check.segments.map((s, i) => [
        s.file.name,
        String(s.file.firstLsn),
        s.lastLsn === null ? '-' : String(s.lastLsn),
        s.encryptedFrames > 0
          ? `? (${formatCount(s.encryptedFrames)} encrypted frames)`
          : formatCount(s.records),
        formatBytes(s.file.sizeBytes),
        i < check.segments.length - 1 ? 'sealed' : 'active',
        describeCipher(s.header?.cipher, s.header?.keyId),
        describeTimes(s.firstTime, s.lastTime),
      ]),
    ),
  );
  if (check.findings.length > 0) {
    printLine(out.stdout);
    printLine(
      out.stdout,
      isCorrupt(check)
        ? `CORRUPT: ${check.findings.length} problem(s) found; \`walnut verify ${dir}\` lists them.`
        : `note: a torn tail at the end, which the next open cuts; \`walnut verify ${dir}\` shows where.`,
    );
  }
  return exitCode(check);
}

/** As `verify` judges: corruption is exit 1; a torn tail at the very end is only a note. */
function exitCode(check: LogCheck): number {
  return isCorrupt(check) ? ExitCode.CORRUPTION : ExitCode.OK;
}

function summaryPairs(
  check: LogCheck,
  floorLsn: bigint | null,
  lock: LockState,
): [string, string][] {
  const sealed = Math.max(check.segments.length - 1, 0);
  const ciphers = new Set(
    check.segments.map((s) => describeCipher(s.header?.cipher, s.header?.keyId)),
  );
  return [
    [
      'segments',
      `${check.segments.length} (${sealed} sealed, 1 active), ${formatBytes(check.totalBytes)}`,
    ],
    ['records', describeRecords(check)],
    ['floor', describeFloor(check, floorLsn)],
    ['newest segment', describeHead(check)],
    ['encryption', [...ciphers].join(', ')],
    ['compression', describeCompression(check)],
    ['lock', describeLock(lock)],
  ];
}

/** From the segments' header flag: their frames may be compressed (decision 0118). */
function describeCompression(check: LogCheck): string {
  const flagged = check.segments.filter((s) => s.header?.compressed === true).length;
  if (flagged === 0) return 'none';
  return `zstd frames in ${flagged} of ${check.segments.length} segments (header flag 'compressed')`;
}

function describeRecords(check: LogCheck): string {
  const readable =
    check.firstLsn === null
      ? 'none readable'
      : `${formatCount(check.records)} (LSN ${check.firstLsn} .. ${check.lastLsn})`;
  if (check.encryptedFrames === 0) return readable;
  const encrypted = `${formatCount(check.encryptedFrames)} encrypted frames, whose records cannot be counted without the key (the CLI takes none)`;
  return check.records === 0 ? `unknown: ${encrypted}` : `${readable}, and ${encrypted}`;
}

function describeFloor(check: LogCheck, floorLsn: bigint | null): string {
  if (check.floor.kind === 'valid') return `${check.floor.lsn} (from FLOOR)`;
  if (check.floor.kind === 'damaged') return `unknown: ${check.floor.reason}`;
  return `${floorLsn ?? '-'} (no FLOOR file: the first segment's first LSN)`;
}

function describeHead(check: LogCheck): string {
  if (check.head.kind === 'valid') return `starts at LSN ${check.head.lsn} (from HEAD)`;
  if (check.head.kind === 'damaged') return `unknown: ${check.head.reason}`;
  return 'not recorded (no HEAD file: a log from before HEAD; its next writer writes one)';
}

function describeCipher(cipher: string | undefined, keyId: number | undefined): string {
  if (cipher === undefined) return 'unknown (bad header)';
  return cipher === 'none' ? 'none' : `${cipher}, key ${keyId}`;
}

/** A segment's time range; records of format version 1 carry no time. */
function describeTimes(first: number | null, last: number | null): string {
  if (first === null || last === null) return '-';
  const from = new Date(first).toISOString();
  return first === last ? from : `${from} .. ${new Date(last).toISOString()}`;
}

function describeCursors(cursors: readonly CursorFile[], floorLsn: bigint | null): string {
  if (cursors.length === 0) return 'none';
  return cursors
    .map((c) => {
      if (c.state.kind === 'damaged') return `${c.name} (damaged)`;
      const behind = floorLsn !== null && c.state.lsn + 1n < floorLsn ? ', behind' : '';
      return `${c.name} at ${c.state.lsn}${behind}`;
    })
    .join('; ');
}

function describeRetention(retention: RetentionState): string {
  if (retention.kind === 'absent') return 'none recorded (its last writer set no retention)';
  if (retention.kind === 'damaged') return `unknown: ${retention.reason}`;
  const r = retention.settings;
  const limits = [
    r.maxBytes === null ? null : `maxBytes ${formatBytes(r.maxBytes)}`,
    r.maxSegments === null ? null : `maxSegments ${r.maxSegments}`,
    r.maxAgeMs === null ? null : `maxAgeMs ${r.maxAgeMs} ms${inDays(r.maxAgeMs)}`,
    r.maxCursorLagBytes === null
      ? 'cursors hold without a cap'
      : `maxCursorLagBytes ${formatBytes(r.maxCursorLagBytes)}`,
    `every ${r.intervalMs} ms and at each sealed segment`,
    r.beforeDelete ? 'beforeDelete hook set' : null,
  ];
  return limits.filter((part) => part !== null).join(', ');
}

/** ` (7 days)` beside an age of a day or more, whole or to a tenth. */
function inDays(ms: number): string {
  if (ms < DAY_MS) return '';
  const days = ms / DAY_MS;
  return ` (${Number.isInteger(days) ? days : days.toFixed(1)} days)`;
}

const DAY_MS = 86_400_000;

function describeLock(lock: LockState): string {
  if (lock.kind === 'free') return 'free (no writer has it open)';
  if (lock.kind === 'unknown') return `unknown (${lock.reason})`;
  return `held by pid ${lock.pid}${lock.command ? ` (${lock.command})` : ''}`;
}
