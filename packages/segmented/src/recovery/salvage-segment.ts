import { join } from 'node:path';
import {
  decodeFileHeader,
  encodeFileHeader,
  FILE_HEADER_SIZE,
  type FileHeader,
  segmentFileName,
} from '@walnut/codec';
import { readFully, type StorageIo } from '@walnut/storage-io';
import { lsnRange, type RecoveryLedger } from './recovery-ledger.js';
import type { RecoveredSegment, RecoveryOptions } from './recovery-report.js';
import { type IntactRun, resynchronise } from './resync.js';
import { type Damage, readCipher } from './segment-scan.js';

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
    // The copied frames' times count from it, and the log id stays the log's.
    createdAtMs: header.createdAtMs,
    version: header.version,
    logId: header.logId,
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

/**
 * Keeps every intact run of a damaged segment after its valid prefix (each in a new
 * segment file), reports each damaged stretch with the LSNs lost in it, and returns the
 * new segments. The caller then cuts `seg` to its valid prefix (docs/decisions/0321).
 */
export async function salvageSegment(
  opts: RecoveryOptions,
  ledger: RecoveryLedger,
  seg: RecoveredSegment,
  damage: Damage,
  below: bigint | null,
): Promise<RecoveredSegment[]> {
  const { io, dir } = opts;
  const report = ledger.report;
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
      ledger.lose({
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
  // The run files' names must be durable before the caller cuts the damaged segment: a power
  // cut in between would otherwise keep the cut and lose the runs (found by crashfs).
  if (runs.length > 0) await io.syncDirectory(dir);
  const tailBytes = file.length - tail.start;
  // The end of the last segment, after whatever was kept: the remains of a write a crash
  // interrupted (or of a file cut short), which any recovery cuts. Valid frames after the
  // damage that start no run (a closing writer's durable mark, say) hold no LSN to keep:
  // the LSNs lost are the tail's, however many it held, as for a torn write.
  const tornAtEnd = below === null && tail.kind === 'torn';
  if (tornAtEnd) {
    report.tornTail = {
      segment: seg.path,
      offset: tail.start,
      bytes: tailBytes,
      reason:
        runs.length > 0
          ? 'no valid frame after the last intact run'
          : damage.kind === 'torn'
            ? damage.reason
            : `${damage.reason}, none of them a record`,
      cut: true,
    };
  } else if (tail.kind === 'torn' || (below !== null && keptUpTo + 1n < below)) {
    ledger.lose({
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
