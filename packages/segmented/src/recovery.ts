import { join } from 'node:path';
import {
  decodeFileHeader,
  encodeFileHeader,
  FILE_HEADER_SIZE,
  type FileHeader,
  FRAME_HEADER_SIZE,
  gapsCover,
  HEAD_FILE,
  isWalError,
  type KeyRing,
  type LsnGap,
  MAX_FRAME_BODY,
  MAX_LSN,
  mergeGaps,
  segmentFileName,
  segmentFilesIn,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { readFully, type StorageIo } from '@walnut/storage-io';
import { MAX_SEGMENT_TARGET_SIZE, type RecoveryMode } from './config.js';
import { FLOOR_TMP_FILE, readFloor } from './floor.js';
import { GAPS_TMP_FILE, readGaps, writeGaps } from './gaps.js';
import { HEAD_TMP_FILE, readHead, recordHead } from './head.js';
import { type IntactRun, resynchronise } from './resync.js';
import {
  CORRUPT_ADVICE,
  corruptError,
  type Damage,
  readCipher,
  readHeader,
  scanSegment,
} from './segment-scan.js';

/** A segment as recovery found it. */
export interface RecoveredSegment {
  path: string;
  firstLsn: bigint;
  header: FileHeader;
  /** LSN of its last record; firstLsn - 1 when it holds none. */
  lastLsn: bigint;
  /** File offset after its last valid frame. */
  dataEnd: number;
  /** Size of the file (larger than dataEnd for a preallocated segment). */
  fileSize: number;
}

/** A torn tail open() found: the remains of a write interrupted by a crash. */
export interface TornTail {
  segment: string;
  offset: number;
  /** Bytes from `offset` to the end of the file that were (or, read-only, would be) cut. */
  bytes: number;
  reason: string;
  /** False for a read-only opener, which reports but never modifies. */
  cut: boolean;
}

/** A stretch of damage salvage recovery gave up, keeping every intact record around it. */
export interface SalvageDrop {
  segment: string;
  /** Offset of the first dropped byte (0 for a whole segment, or for a missing one). */
  offset: number;
  bytes: number;
  reason: string;
  /** The LSNs lost with it (recorded in the log's GAPS file); null when it held none, or when it is unknowable. */
  lostLsns: LsnGap | null;
  /** Where a writer moved a dropped whole segment (it never deletes them). */
  movedTo?: string;
  /** The new segment file that holds the intact records found after this stretch. */
  splitTo?: string;
}

export interface RecoveryReport {
  mode: RecoveryMode;
  readOnly: boolean;
  /** Segments in the log after recovery. */
  segments: number;
  /** Records found in them (including any below the floor in the first segment). */
  records: number;
  floorLsn: bigint;
  /** Highest LSN in the log after recovery, 0n when empty. */
  lastLsn: bigint;
  tornTail: TornTail | null;
  salvaged: SalvageDrop[];
  /**
   * Every LSN range the log has no records for because a salvage (this one or an earlier
   * one) lost them to damage, at or above the floor. Readers skip exactly these; any other
   * hole is a missing segment.
   */
  gaps: LsnGap[];
  /** Leftovers a writer removed: unfinished segment creations, segments below the floor. */
  removedFiles: string[];
}

export interface RecoveryResult {
  segments: RecoveredSegment[];
  floorLsn: bigint;
  nextLsn: bigint;
  report: RecoveryReport;
}

export interface RecoveryOptions {
  io: StorageIo;
  dir: string;
  mode: RecoveryMode;
  readOnly: boolean;
  /** See `ScanOptions.besideWriter`. */
  besideWriter?: boolean;
  ring: KeyRing | undefined;
  maxFrameBody: number;
}

/** Copies an intact run of a damaged segment into a segment file of its own, named for its first LSN. */
async function writeRunSegment(
  io: StorageIo,
  dir: string,
  header: FileHeader,
  bytes: Buffer,
  run: IntactRun,
): Promise<RecoveredSegment> {
  const path = join(dir, segmentFileName(run.firstLsn));
  // The same salt and key id: the frames are copied, never re-encrypted, so the file key
  // they were sealed under must stay the file's key.
  const head = encodeFileHeader({
    firstLsn: run.firstLsn,
    salt: header.salt,
    cipher: header.cipher,
    fileKind: 'segment',
    keyId: header.keyId,
    createdAtMs: header.createdAtMs,
  });
  const tmp = `${path}.tmp`;
  const fd = await io.open(tmp, { create: true, truncate: true, mode: 0o600 });
  try {
    await io.write(fd, head, 0);
    await io.write(fd, bytes.subarray(run.start, run.end), FILE_HEADER_SIZE);
    await io.fsync(fd);
  } finally {
    await io.close(fd);
  }
  await io.rename(tmp, path);
  const size = FILE_HEADER_SIZE + run.end - run.start;
  return {
    path,
    firstLsn: run.firstLsn,
    header: decodeFileHeader(head, path),
    lastLsn: run.lastLsn,
    dataEnd: size,
    fileSize: size,
  };
}

/** The fewest bytes one record takes in a segment: a batch entry with no payload. */
const MIN_RECORD_BYTES = 7;

/** The most LSNs one segment can hold: its largest target size plus one frame, at the fewest bytes a record. */
const MAX_LSNS_IN_A_SEGMENT = BigInt(
  Math.ceil((MAX_SEGMENT_TARGET_SIZE + FRAME_HEADER_SIZE + MAX_FRAME_BODY) / MIN_RECORD_BYTES),
);

function lsnRange(from: bigint, to: bigint): LsnGap | null {
  return from <= to ? { from, to } : null;
}

/**
 * Opens a log directory the way DESIGN.md's durability contract says: a torn tail is cut
 * and the cut fsynced (reported, not cut, when read-only); damage followed by valid data
 * is WAL_CORRUPT unless salvaging; a missing middle segment is WAL_MISSING_SEGMENT unless
 * an earlier salvage recorded its LSNs as lost (the GAPS file).
 *
 * Salvage keeps every intact record: after each damaged stretch it resynchronises on the
 * next frame whose CRC and LSN check out, moves each intact run after the damage into a
 * segment file of its own (the LSNs between are a gap, which a segment file cannot hold),
 * and records every lost LSN range in GAPS. Files are written before the damaged segment
 * is cut and GAPS last, so a crash in between leaves a log that refuses to open by default
 * and that a second salvage finishes.
 */
export async function recoverLog(opts: RecoveryOptions): Promise<RecoveryResult> {
  const { io, dir, mode, readOnly } = opts;
  const salvaging = mode === 'salvage';
  const report: RecoveryReport = {
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
  };
  let dirChanged = false;
  // Before listing: a writer records a segment in HEAD only once it is in the directory.
  const head = await readHeadUnlessDamaged();
  const names = await io.readdir(dir);
  const found = segmentFilesIn(names);
  for (const name of names) {
    if (
      !readOnly &&
      (name === FLOOR_TMP_FILE ||
        name === GAPS_TMP_FILE ||
        name === HEAD_TMP_FILE ||
        /^\d{20}\.wal\.tmp$/.test(name) ||
        /^spare-[0-9a-f]{16}\.tmp$/.test(name))
    ) {
      // An interrupted segment creation or floor update, or a file opened ahead for the next
      // segment: never renamed into place, so never part of the log.
      await io.unlink(join(dir, name));
      report.removedFiles.push(join(dir, name));
      dirChanged = true;
    }
  }
  const recordedFloor = await readFloor(io, dir);
  // Segments wholly below the floor are leftovers of an interrupted truncateBefore.
  if (recordedFloor !== null) {
    while (found.length > 1 && found[1]!.firstLsn <= recordedFloor) {
      const gone = found.shift()!;
      if (!readOnly) {
        await io.unlink(join(dir, gone.name));
        report.removedFiles.push(join(dir, gone.name));
        dirChanged = true;
      }
    }
  }
  const first = found[0];
  const floorLsn = recordedFloor ?? first?.firstLsn ?? 1n;
  const knownGaps = await readGaps(io, dir);
  const newGaps: LsnGap[] = [];
  const recorded = (from: bigint, to: bigint) =>
    gapsCover(knownGaps, from, to) || gapsCover(mergeGaps(newGaps), from, to);
  const lose = (drop: SalvageDrop): void => {
    report.salvaged.push(drop);
    if (drop.lostLsns !== null) newGaps.push(drop.lostLsns);
  };
  /** A damaged HEAD is WAL_CORRUPT, except to salvage, which goes on without it and reports it. */
  async function readHeadUnlessDamaged(): Promise<bigint | null> {
    try {
      return await readHead(io, dir);
    } catch (err) {
      if (!salvaging || !isWalError(err, WalErrorCode.CORRUPT)) throw err;
      report.salvaged.push({
        segment: join(dir, HEAD_FILE),
        offset: 0,
        bytes: (await io.stat(join(dir, HEAD_FILE)))?.size ?? 0,
        reason: `${err.message} (rewritten from the segments found)`,
        lostLsns: null,
      });
      return null;
    }
  }
  const moveAside = async (path: string, reason: string): Promise<void> => {
    const st = await io.stat(path);
    const drop: SalvageDrop = {
      segment: path,
      offset: 0,
      bytes: st?.size ?? 0,
      reason,
      lostLsns: null,
    };
    if (!readOnly) {
      drop.movedTo = `${path}.dropped`;
      await io.rename(path, drop.movedTo);
      dirChanged = true;
    }
    report.salvaged.push(drop);
  };

  if (
    first !== undefined &&
    first.firstLsn > floorLsn &&
    !recorded(floorLsn, first.firstLsn - 1n)
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
    lose({
      segment: join(dir, first.name),
      offset: 0,
      bytes: 0,
      reason: `no segment holds LSNs ${missing.from}..${missing.to} (the floor is ${floorLsn})`,
      lostLsns: missing,
    });
  }

  const segments: RecoveredSegment[] = [];
  /**
   * The last segment was unreadable, so how many LSNs it held is unknown. Handing them out
   * again would give acknowledged records' LSNs to new ones; instead every LSN it could have
   * held (one per 7 bytes, the smallest a record takes: an empty batch entry) is recorded as
   * lost and numbering goes on after them.
   */
  const retireLsnsOf = (firstLsn: bigint, fileSize: number): void => {
    const last = firstLsn + BigInt(Math.max(1, Math.floor(fileSize / MIN_RECORD_BYTES))) - 1n;
    const drop = report.salvaged[report.salvaged.length - 1]!;
    drop.lostLsns = { from: firstLsn, to: last };
    drop.reason += `; LSNs ${firstLsn}..${last} (every LSN its ${fileSize} bytes could hold) are retired`;
    newGaps.push(drop.lostLsns);
  };
  // Read-only salvage cannot split a damaged segment: it keeps what comes before the damage.
  const reportRestDropped = async (index: number, reason: string): Promise<void> => {
    for (let j = index; j < found.length; j++) {
      const path = join(dir, found[j]!.name);
      const st = await io.stat(path);
      report.salvaged.push({
        segment: path,
        offset: 0,
        bytes: st?.size ?? 0,
        reason,
        lostLsns: null,
      });
    }
  };

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
      const hole = lsnRange(expectedFirst, firstLsn - 1n);
      if (hole !== null && recorded(hole.from, hole.to)) {
        // LSNs an earlier salvage lost (or this one, after the damage at the end of `prev`).
      } else if (salvaging && hole !== null) {
        lose({
          segment: path,
          offset: 0,
          bytes: 0,
          reason: `no segment holds LSNs ${hole.from}..${hole.to} (${before}, ${name} starts at ${firstLsn})`,
          lostLsns: hole,
        });
      } else if (salvaging) {
        await moveAside(path, `it starts at LSN ${firstLsn} but ${before}`);
        continue;
      } else if (hole !== null) {
        throw new WalError(
          WalErrorCode.MISSING_SEGMENT,
          `${before} but the next segment ${name} starts at ${firstLsn}: LSNs ${hole.from}..${hole.to} are missing. Restore the missing segment, or open with recovery: 'salvage' to record them as lost and keep every other record`,
          {
            details: {
              segment: path,
              offset: 0,
              missingFrom: hole.from,
              missingTo: hole.to,
            },
          },
        );
      } else {
        throw corruptError(path, 0, `it starts at LSN ${firstLsn} but ${before}`, CORRUPT_ADVICE);
      }
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
          await moveAside(path, `unreadable header: ${err.message}`);
          if (isLast && !readOnly) retireLsnsOf(firstLsn, fileSize);
          continue;
        }
        throw err;
      }
      const scan = await scanSegment(opts, fd, path, header, fileSize, isLast);
      report.records += scan.records;
      const seg: RecoveredSegment = {
        path,
        firstLsn,
        header,
        lastLsn: scan.lastLsn,
        dataEnd: scan.dataEnd,
        fileSize,
      };
      const damage = scan.damage;
      if (damage === null) {
        segments.push(seg);
        continue;
      }
      const tornTail = damage.kind === 'torn' && isLast;
      if (!tornTail && !salvaging) {
        throw corruptError(path, damage.offset, damage.reason, CORRUPT_ADVICE);
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
          await reportRestDropped(i + 1, `after the damage in ${name} at offset ${damage.offset}`);
          break;
        }
        continue;
      }
      segments.push(seg, ...(await salvageSegment(seg, damage, found[i + 1]?.firstLsn ?? null)));
      await io.truncate(fd, damage.offset);
      await io.fsync(fd);
      seg.fileSize = damage.offset;
      dirChanged = true;
    } finally {
      await closeOnce();
    }
  }

  /**
   * Keeps every intact run of a damaged segment after its valid prefix (each in a new
   * segment file), reports each damaged stretch with the LSNs lost in it, and returns the
   * new segments. The caller then cuts `seg` to its valid prefix.
   */
  async function salvageSegment(
    seg: RecoveredSegment,
    damage: Damage,
    below: bigint | null,
  ): Promise<RecoveredSegment[]> {
    const fd = await io.open(seg.path, { readOnly: true });
    const file = Buffer.allocUnsafeSlow(seg.fileSize);
    try {
      await readFully(io, fd, file, 0);
    } finally {
      await io.close(fd);
    }
    const { runs, stretches, tail } = resynchronise(file, damage.offset, {
      nextLsn: seg.lastLsn + 1n,
      below,
      cipher: readCipher(opts.ring, seg.header, seg.path),
      maxFrameBody: opts.maxFrameBody,
    });
    const created: RecoveredSegment[] = [];
    let keptUpTo = seg.lastLsn;
    for (const [k, run] of runs.entries()) {
      const split = await writeRunSegment(io, dir, seg.header, file, run);
      created.push(split);
      report.records += run.records;
      const stretch = stretches[k]!;
      const lost = lsnRange(keptUpTo + 1n, run.firstLsn - 1n);
      if (stretch.end > stretch.start || lost !== null) {
        lose({
          segment: seg.path,
          offset: stretch.start,
          bytes: stretch.end - stretch.start,
          reason: k === 0 ? damage.reason : 'damage between intact frames',
          lostLsns: lost,
          splitTo: split.path,
        });
      }
      keptUpTo = run.lastLsn;
    }
    const tailBytes = file.length - tail.start;
    // The end of the last segment, after whatever was kept: the remains of a write a crash
    // interrupted (or of a file cut short), which any recovery cuts.
    const tornAtEnd = below === null && tail.kind === 'torn';
    if (tornAtEnd && (runs.length > 0 || damage.kind === 'torn')) {
      report.tornTail = {
        segment: seg.path,
        offset: tail.start,
        bytes: tailBytes,
        reason: runs.length > 0 ? 'no valid frame after the last intact run' : damage.reason,
        cut: true,
      };
    } else if (tail.kind === 'torn' || (below !== null && keptUpTo + 1n < below)) {
      lose({
        segment: seg.path,
        offset: tail.start,
        bytes: tailBytes,
        reason:
          runs.length === 0
            ? damage.reason
            : tail.kind === 'torn'
              ? 'damage after the last intact frame'
              : 'the segment ends early',
        lostLsns: below === null ? null : lsnRange(keptUpTo + 1n, below - 1n),
      });
    }
    return created;
  }

  const last = segments[segments.length - 1];
  const lastLsn = last === undefined ? floorLsn - 1n : last.lastLsn;
  const newestFound = found[found.length - 1]?.firstLsn;
  if (head !== null && (newestFound === undefined || newestFound < head) && !recorded(head, head)) {
    const missing = join(dir, segmentFileName(head));
    const after =
      newestFound === undefined
        ? 'no segment'
        : `the newest segment found starts at LSN ${newestFound}`;
    if (!salvaging) {
      throw new WalError(
        WalErrorCode.MISSING_SEGMENT,
        `the log's HEAD says its newest segment starts at LSN ${head}, but ${after}: ${missing} is missing, and records after LSN ${lastLsn} that may have been acknowledged with it. Restore it from a backup, or open with recovery: 'salvage' to retire every LSN it could have held (none is handed out again) and keep every other record`,
        { details: { segment: missing, offset: 0, missingFrom: lastLsn + 1n } },
      );
    }
    // Its size is unknowable: retire every LSN the largest segment allowed could have held.
    const to = head + MAX_LSNS_IN_A_SEGMENT - 1n;
    const lost = { from: lastLsn + 1n, to: to > MAX_LSN ? MAX_LSN : to };
    lose({
      segment: missing,
      offset: 0,
      bytes: 0,
      reason: `HEAD names it as the newest segment, but ${after}; LSNs ${lost.from}..${lost.to} are retired`,
      lostLsns: lost,
    });
  }
  if (!readOnly && last !== undefined && (head === null || head < last.firstLsn)) {
    // A log from before HEAD, or a crash between a segment's rename and its HEAD update.
    await recordHead(io, dir, last.firstLsn);
  }
  const gaps = mergeGaps(knownGaps, newGaps).filter((gap) => gap.to >= floorLsn);
  if (newGaps.length > 0 && !readOnly) await writeGaps(io, dir, gaps);
  else if (dirChanged) await io.syncDirectory(dir);
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
