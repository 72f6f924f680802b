import { join } from 'node:path';
import {
  checkLogId,
  type FileHeader,
  isWalError,
  jsonReady,
  segmentFilesIn,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { FLOOR_TMP_FILE, readFloor } from '../files/floor.js';
import { FrameIndex } from '../files/frame-index.js';
import { GAPS_TMP_FILE, readGaps } from '../files/gaps.js';
import { HEAD_TMP_FILE, recordHead } from '../files/head.js';
import { existingSegment, type Segment } from '../files/segment.js';
import { proveKeys } from './key-proof.js';
import { logIdOf } from './log-id.js';
import { checkNewestSegment, readHeadForRecovery } from './newest-segment.js';
import { lsnRange, RecoveryLedger } from './recovery-ledger.js';
import type {
  RecoveredSegment,
  RecoveryOptions,
  RecoveryReport,
  RecoveryResult,
} from './recovery-report.js';
import { salvageSegment } from './salvage-segment.js';
import { readHeadersAhead } from './sealed-headers.js';
import {
  CORRUPT_ADVICE,
  corruptError,
  readCipher,
  readHeader,
  SEALED_END_ADVICE,
  scanSegment,
} from './segment-scan.js';

/** Names of unfinished work: a segment creation, a FLOOR, GAPS or HEAD update, a spare file. */
function isLeftover(name: string): boolean {
  return (
    name === FLOOR_TMP_FILE ||
    name === GAPS_TMP_FILE ||
    name === HEAD_TMP_FILE ||
    /^\d{20}\.wal\.tmp$/.test(name) ||
    /^spare-[0-9a-f]{16}\.tmp$/.test(name)
  );
}

/**
 * A segment that does not start where the log so far ends. A hole GAPS lists is expected;
 * salvage records an unlisted hole as lost, and moves aside a segment that overlaps what
 * comes before it (false: it is no longer part of the log); anything else is an error.
 */
async function acceptOutOfPlace(
  ledger: RecoveryLedger,
  opts: RecoveryOptions,
  segment: { name: string; path: string; firstLsn: bigint },
  expectedFirst: bigint,
  before: string,
): Promise<boolean> {
  const { name, path, firstLsn } = segment;
  const salvaging = opts.mode === 'salvage';
  const hole = lsnRange(expectedFirst, firstLsn - 1n);
  if (hole !== null && ledger.recorded(hole.from, hole.to)) {
    // LSNs an earlier salvage lost (or this one, after the damage at the end of `prev`).
    return true;
  }
  if (salvaging && hole !== null) {
    ledger.lose({
      segment: path,
      offset: 0,
      bytes: 0,
      reason: `no segment holds LSNs ${hole.from}..${hole.to} (${before}, ${name} starts at ${firstLsn})`,
      lostLsns: hole,
    });
    return true;
  }
  if (salvaging) {
    await ledger.dropFiles([path], `it starts at LSN ${firstLsn} but ${before}`, !opts.readOnly);
    return false;
  }
  if (hole !== null) {
    throw new WalError(
      WalErrorCode.MISSING_SEGMENT,
      `${before} but the next segment ${name} starts at ${firstLsn}: LSNs ${hole.from}..${hole.to} are missing. Restore the missing segment, or open with recovery: 'salvage' to record them as lost and keep every other record`,
      { details: { segment: path, offset: 0, missingFrom: hole.from, missingTo: hole.to } },
    );
  }
  throw corruptError(path, 0, `it starts at LSN ${firstLsn} but ${before}`, CORRUPT_ADVICE);
}

/**
 * Whether open leaves a sealed segment (one with a successor starting at `nextFirst`) unread:
 * unless the caller asked for `verify: 'all'`, or salvage, which must find every damaged
 * stretch, or a recorded gap lies in its range, so that its successor's name does not say
 * where its records end.
 */
function trustsSealed(
  opts: RecoveryOptions,
  ledger: RecoveryLedger,
  firstLsn: bigint,
  nextFirst: bigint,
): boolean {
  return (
    opts.mode !== 'salvage' &&
    opts.verify !== 'all' &&
    nextFirst > firstLsn &&
    !ledger.touches(firstLsn, nextFirst - 1n)
  );
}

/**
 * Opens a log directory the way DESIGN.md's durability contract says: the newest segment is
 * scanned, the others only by `verify: 'all'` and salvage (else their names and headers are
 * checked, and readers check their frames); a torn tail is cut and the cut fsynced (reported,
 * not cut, when read-only); damage followed by valid data is WAL_CORRUPT unless salvaging; a
 * missing segment among those scanned is WAL_MISSING_SEGMENT unless an earlier salvage
 * recorded its LSNs as lost (the GAPS file).
 *
 * Salvage keeps every intact record: after each damaged stretch it resynchronises on the
 * next frame whose CRC and LSN check out, moves each intact run after the damage into a
 * segment file of its own (the LSNs between are a gap, which a segment file cannot hold),
 * and records every lost LSN range in GAPS. Files are written before the damaged segment
 * is cut and GAPS last, so a crash in between leaves a log that a full check refuses and
 * that a second salvage finishes.
 */
export async function recoverLog(opts: RecoveryOptions): Promise<RecoveryResult> {
  const { io, dir, mode, readOnly } = opts;
  const salvaging = mode === 'salvage';
  const report = jsonReady<RecoveryReport>({
    mode,
    readOnly,
    segments: 0,
    records: 0,
    floorLsn: 0n,
    lastLsn: 0n,
    tornTail: null,
    salvaged: [],
    gaps: [],
    removedFiles: [],
    finishedCut: opts.finishedCut ? jsonReady(opts.finishedCut) : null,
  });
  // Before listing: a writer records a segment in HEAD only once it is in the directory.
  const head = await readHeadForRecovery(io, dir, salvaging, report);
  const names = await io.readdir(dir);
  const found = segmentFilesIn(names);
  const remove = async (name: string): Promise<void> => {
    await io.unlink(join(dir, name));
    report.removedFiles.push(join(dir, name));
  };
  // Never renamed into place, so never part of the log.
  const leftovers = readOnly ? [] : names.filter(isLeftover);
  for (const name of leftovers) await remove(name);
  const recordedFloor = await readFloor(io, dir);
  // Segments wholly below the floor are leftovers of an interrupted truncateBefore.
  if (recordedFloor !== null) {
    while (found.length > 1 && found[1]!.firstLsn <= recordedFloor) {
      const gone = found.shift()!;
      if (!readOnly) {
        await remove(gone.name);
      }
    }
  }
  const first = found[0];
  const floorLsn = recordedFloor ?? first?.firstLsn ?? 1n;
  const ledger = new RecoveryLedger(
    io,
    dir,
    report,
    await readGaps(io, dir),
    report.removedFiles.length > 0,
  );

  if (
    first !== undefined &&
    first.firstLsn > floorLsn &&
    !ledger.recorded(floorLsn, first.firstLsn - 1n)
  ) {
    const missing = lsnRange(floorLsn, first.firstLsn - 1n)!;
    if (!salvaging) {
      throw new WalError(
        WalErrorCode.MISSING_SEGMENT,
        `the log's floor is LSN ${floorLsn} but its first segment ${first.name} starts at ${first.firstLsn}: the segment holding LSNs ${floorLsn}..${first.firstLsn - 1n} is missing. Restore it from a backup, or open with recovery: 'salvage' to record them as lost`,
        {
          details: {
            segment: join(dir, first.name),
            floorLsn,
            missingFrom: floorLsn,
            missingTo: first.firstLsn - 1n,
          },
        },
      );
    }
    ledger.lose({
      segment: join(dir, first.name),
      offset: 0,
      bytes: 0,
      reason: `no segment holds LSNs ${missing.from}..${missing.to} (the floor is ${floorLsn})`,
      lostLsns: missing,
    });
  }

  const segments: RecoveredSegment[] = [];
  /** Key ids a scan decrypted a frame of: Walnut writes only encrypted frames in an encrypted segment. */
  const proven = new Set<number>();
  // The log's id is that of the segment HEAD names where it is there: a file newer than it
  // is the writer's next segment (a crash before HEAD moved) or a stray, another log's
  // say, which must not make every segment of this log look foreign.
  const reference = found.find((f) => f.firstLsn === head) ?? found[found.length - 1];
  const logId =
    reference === undefined
      ? undefined
      : await logIdOf(io, join(dir, reference.name), reference.firstLsn);
  const sealedHeader =
    salvaging || opts.verify === 'all'
      ? null
      : readHeadersAhead(
          io,
          found.slice(0, -1).map((f) => ({ path: join(dir, f.name), firstLsn: f.firstLsn })),
        );
  for (let i = 0; i < found.length; i++) {
    const { name, firstLsn } = found[i]!;
    const path = join(dir, name);
    const isLast = i === found.length - 1;
    const prev = segments[segments.length - 1];
    // After salvage moved every earlier segment aside, the log starts at the floor.
    const expectedFirst = prev !== undefined ? prev.lastLsn + 1n : i > 0 ? floorLsn : firstLsn;
    if (firstLsn !== expectedFirst) {
      const before =
        prev === undefined
          ? `the floor is LSN ${floorLsn}`
          : `${prev.path} ends at LSN ${prev.lastLsn}`;
      if (!(await acceptOutOfPlace(ledger, opts, { name, path, firstLsn }, expectedFirst, before)))
        continue;
    }
    const next = found[i + 1];
    if (next !== undefined && trustsSealed(opts, ledger, firstLsn, next.firstLsn)) {
      // Not scanned (0311): its successor's name says where it ends, and each reader checks
      // its frames as it hands them out. The key must be at hand all the same.
      const { header, fileSize } = await sealedHeader!(i);
      checkLogId(header, path, logId);
      readCipher(opts.ring, header, path);
      const lastLsn = next.firstLsn - 1n;
      report.records += Number(lastLsn - firstLsn + 1n);
      segments.push({ path, firstLsn, header, lastLsn, dataEnd: fileSize, fileSize });
      continue;
    }
    const fd = await io.open(path, readOnly ? { readOnly: true } : {});
    let open = true;
    const closeOnce = async (): Promise<void> => {
      if (open) {
        open = false;
        await io.close(fd);
      }
    };
    try {
      const fileSize = await io.size(fd);
      let header: FileHeader;
      try {
        header = await readHeader(io, fd, path, firstLsn);
      } catch (err) {
        // Among segments this version wrote, a header of an unknown version is damage too.
        const damaged =
          isWalError(err, WalErrorCode.CORRUPT) || isWalError(err, WalErrorCode.UNSUPPORTED_FORMAT);
        if (salvaging && damaged) {
          await closeOnce();
          // Its records cannot be told apart from damage without the header (the cipher and
          // key are in it); the LSNs it held become part of the hole before the next segment.
          await ledger.dropFiles([path], `unreadable header: ${err.message}`, !readOnly);
          if (isLast && !readOnly) ledger.retireLsnsOf(firstLsn, fileSize);
          continue;
        }
        throw err;
      }
      try {
        checkLogId(header, path, logId);
      } catch (err) {
        if (!salvaging) throw err;
        await closeOnce();
        // Another log's segment: none of its records is this log's; its LSNs are a hole.
        await ledger.dropFiles([path], (err as Error).message, !readOnly);
        if (isLast && !readOnly) ledger.retireLsnsOf(firstLsn, fileSize);
        continue;
      }
      const scan = await scanSegment(opts, fd, path, header, fileSize, isLast);
      report.records += scan.records;
      if (header.cipher !== 'none' && scan.records > 0) proven.add(header.keyId);
      const seg: RecoveredSegment = {
        path,
        firstLsn,
        header,
        lastLsn: scan.lastLsn,
        dataEnd: scan.dataEnd,
        fileSize,
      };
      if (scan.lastTime !== undefined) seg.lastTime = scan.lastTime;
      const damage = scan.damage;
      if (damage === null) {
        if (scan.frames !== undefined) seg.frames = scan.frames;
        segments.push(seg);
        continue;
      }
      const tornTail = damage.kind === 'torn' && isLast;
      if (!tornTail && !salvaging) {
        const advice = damage.kind === 'torn' ? SEALED_END_ADVICE : CORRUPT_ADVICE;
        throw corruptError(path, damage.offset, damage.reason, advice);
      }
      if (tornTail && mode === 'strict') {
        throw corruptError(
          path,
          damage.offset,
          `${damage.reason} (a torn tail: the remains of a write interrupted by a crash)`,
          "recovery: 'strict' refuses to cut it; open with recovery: 'truncate-tail' to cut it off",
        );
      }
      const bytes = fileSize - damage.offset;
      if (!salvaging || readOnly) {
        if (tornTail) {
          report.tornTail = {
            segment: path,
            offset: damage.offset,
            bytes,
            reason: damage.reason,
            cut: !readOnly,
          };
        } else {
          report.salvaged.push({
            segment: path,
            offset: damage.offset,
            bytes,
            reason: damage.reason,
            lostLsns: null,
          });
        }
        if (!readOnly) {
          await io.truncate(fd, damage.offset);
          await io.fsync(fd);
          seg.fileSize = damage.offset;
        }
        segments.push(seg);
        if (!tornTail) {
          await closeOnce();
          // Read-only salvage cannot split a damaged segment: it keeps what comes before.
          const rest = found.slice(i + 1).map((f) => join(dir, f.name));
          await ledger.dropFiles(
            rest,
            `after the damage in ${name} at offset ${damage.offset}`,
            false,
          );
          break;
        }
        continue;
      }
      const below = found[i + 1]?.firstLsn ?? null;
      segments.push(seg, ...(await salvageSegment(opts, ledger, seg, damage, below)));
      await io.truncate(fd, damage.offset);
      await io.fsync(fd);
      seg.fileSize = damage.offset;
      ledger.changedDirectory();
    } finally {
      await closeOnce();
    }
  }

  await proveKeys(io, opts.ring, segments, proven);
  const last = segments[segments.length - 1];
  const lastLsn = last === undefined ? floorLsn - 1n : last.lastLsn;
  checkNewestSegment(ledger, dir, salvaging, {
    head,
    newestFirstLsn: found[found.length - 1]?.firstLsn,
    lastLsn,
  });
  if (!readOnly && last !== undefined && (head === null || head < last.firstLsn)) {
    // A log from before HEAD, or a crash between a segment's rename and its HEAD update.
    await recordHead(io, dir, last.firstLsn);
  }
  const gaps = await ledger.finish(floorLsn, readOnly);
  let nextLsn = lastLsn + 1n;
  // LSNs recorded as lost past the last record were retired with an unreadable last segment.
  const tail = gaps[gaps.length - 1];
  if (tail !== undefined && tail.to >= nextLsn) nextLsn = tail.to + 1n;
  if (nextLsn < floorLsn) nextLsn = floorLsn;
  if (nextLsn < 1n) nextLsn = 1n;
  report.segments = segments.length;
  report.floorLsn = floorLsn;
  report.lastLsn = lastLsn < 0n ? 0n : lastLsn;
  report.gaps = gaps;
  return { segments, floorLsn, nextLsn, report };
}

/** The segments recovery found, as the segment set holds them. */
export function recoveredSegments(found: readonly RecoveredSegment[]): Segment[] {
  const segments = found.map((s) => existingSegment(s.path, s.header, s.lastLsn, s.dataEnd));
  const newest = segments[segments.length - 1];
  if (newest !== undefined) newest.frames = found.at(-1)!.frames ?? new FrameIndex(newest.firstLsn);
  return segments;
}
