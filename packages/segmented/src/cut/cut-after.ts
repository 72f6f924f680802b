import { join } from 'node:path';
import {
  CUT_FILE,
  CUT_FILE_MAX,
  decodeCut,
  encodeCut,
  encodeHead,
  FILE_HEADER_SIZE,
  type FileHeader,
  frameLsns,
  HEAD_FILE,
  isWalError,
  type KeyRing,
  type LsnGap,
  type SuffixCut,
  segmentFileName,
  segmentFilesIn,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { readFully, type StorageIo } from '@walnut/storage-io';
import { scanChunks } from '../files/chunk-reader.js';
import { readGaps, writeGaps } from '../files/gaps.js';
import { HEAD_TMP_FILE } from '../files/head.js';
import {
  readSmallFile,
  removeIfPresent,
  tmpName,
  writeFileAtomically,
} from '../files/log-files.js';
import type { FinishedCut } from '../recovery/recovery-report.js';
import { readCipher } from '../recovery/segment-scan.js';

export const CUT_TMP_FILE = tmpName(CUT_FILE);

/** The last suffix cut recorded in `<dir>/CUT`, or null when the log never had one. */
export async function readCut(io: StorageIo, dir: string): Promise<SuffixCut | null> {
  const bytes = await readSmallFile(io, dir, CUT_FILE, CUT_FILE_MAX);
  return bytes === null ? null : decodeCut(bytes, join(dir, CUT_FILE));
}

/** A segment as the cut sees it: where it is and what it holds. */
export interface CutSegment {
  firstLsn: bigint;
  path: string;
  header: FileHeader;
  /** The last LSN it holds (firstLsn - 1 when none). */
  lastLsn: bigint;
  /** Its header and whole frames, in bytes. */
  dataEnd: number;
}

/**
 * Where the log must end to keep exactly the records up to `afterLsn`: the newest segment
 * kept and its length. `segments` are the log's, oldest first, every record in them durable.
 * A cut inside an atomic batch, or inside LSNs a salvage recorded as lost, is refused: a
 * batch is all or nothing, and a gap lies between segments, never inside one.
 */
export async function planCut(
  io: StorageIo,
  ring: KeyRing | undefined,
  segments: readonly CutSegment[],
  gaps: readonly LsnGap[],
  afterLsn: bigint,
): Promise<{ segmentFirstLsn: bigint; keepBytes: number }> {
  let kept = segments[0]!;
  for (const seg of segments) if (seg.firstLsn <= afterLsn) kept = seg;
  if (afterLsn < kept.firstLsn)
    return { segmentFirstLsn: kept.firstLsn, keepBytes: FILE_HEADER_SIZE };
  if (afterLsn >= kept.lastLsn) {
    const gap = gaps.find((g) => g.from <= afterLsn && afterLsn < g.to);
    if (gap !== undefined) {
      throw new WalError(
        WalErrorCode.BAD_ARGUMENT,
        `cannot cut after LSN ${afterLsn}: LSNs ${gap.from}..${gap.to} were lost to a salvage and are no records; cut after ${gap.from - 1n} or after ${gap.to}`,
        { details: { lsn: afterLsn, gapFrom: gap.from, gapTo: gap.to } },
      );
    }
    return { segmentFirstLsn: kept.firstLsn, keepBytes: kept.dataEnd };
  }
  return {
    segmentFirstLsn: kept.firstLsn,
    keepBytes: await frameEndAfter(io, ring, kept, afterLsn),
  };
}

/** The file offset right after the frame whose last record is `lsn` (WAL_BAD_ARGUMENT inside a batch). */
async function frameEndAfter(
  io: StorageIo,
  ring: KeyRing | undefined,
  seg: CutSegment,
  lsn: bigint,
): Promise<number> {
  const cipher = readCipher(ring, seg.header, seg.path);
  const fd = await io.open(seg.path, { readOnly: true });
  try {
    const walk = scanChunks({
      io,
      fd,
      path: seg.path,
      start: FILE_HEADER_SIZE,
      end: seg.dataEnd,
      file: seg.header,
      cipher,
    });
    for await (const scanner of walk) {
      while (scanner.advanceFrame()) {
        const lsns = frameLsns(scanner.frameBuffer, scanner.frameBodyStart, scanner.frameBodyEnd);
        if (lsns === null) continue;
        const { first, last } = lsns;
        if (last < lsn) continue;
        if (last === lsn) return scanner.offset;
        throw new WalError(
          WalErrorCode.BAD_ARGUMENT,
          `cannot cut after LSN ${lsn}: it is inside the atomic batch of LSNs ${first}..${last}, which stays or goes whole; cut after ${first - 1n} or after ${last}`,
          { details: { lsn, batchFirst: first, batchLast: last } },
        );
      }
    }
  } finally {
    await io.close(fd);
  }
  throw new WalError(
    WalErrorCode.CORRUPT,
    `${seg.path} does not hold LSN ${lsn}, which the log says it does; run walnut verify on the log`,
    { details: { segment: seg.path, lsn } },
  );
}

/**
 * Cuts the log after `cut.afterLsn`: records the cut as pending, then `finishCut`. From the
 * moment the pending CUT file is durable the cut will happen: an opener finishes it before
 * anything else. Before that moment nothing was touched. So after a power loss at any
 * point the log is either the one before the cut or the one after it.
 */
export async function cutSuffix(io: StorageIo, dir: string, cut: SuffixCut): Promise<number> {
  await writeFileAtomically(io, dir, CUT_FILE, encodeCut({ ...cut, state: 'pending' }));
  return finishCut(io, dir, cut);
}

/**
 * Every step of a recorded cut, each one harmless to repeat: the later segments deleted
 * (newest first), the kept one replaced by its kept prefix, GAPS and HEAD rewritten to match,
 * the directory fsynced, and the CUT file marked done. Returns the segments deleted.
 */
export async function finishCut(io: StorageIo, dir: string, cut: SuffixCut): Promise<number> {
  const later = segmentFilesIn(await io.readdir(dir)).filter(
    (s) => s.firstLsn > cut.segmentFirstLsn,
  );
  for (const seg of later.reverse()) await io.unlink(join(dir, seg.name));
  const keptPath = join(dir, segmentFileName(cut.segmentFirstLsn));
  const size = (await io.stat(keptPath))?.size;
  if (size === undefined || size < cut.keepBytes) {
    throw new WalError(
      WalErrorCode.CORRUPT,
      `the log's pending truncateAfter keeps ${cut.keepBytes} bytes of ${keptPath}, but ${size === undefined ? 'it is missing' : `it holds ${size}`}; restore the log from a backup`,
      { details: { segment: keptPath, offset: size ?? 0 } },
    );
  }
  if (size > cut.keepBytes) {
    await (CUT_IN_PLACE ? truncateInPlace : replaceWithPrefix)(io, keptPath, cut.keepBytes);
  }
  const gaps = await readGaps(io, dir);
  const keptGaps = gaps.filter((g) => g.from <= cut.afterLsn);
  if (keptGaps.length < gaps.length) await writeGaps(io, dir, keptGaps);
  await lowerHead(io, dir, cut.segmentFirstLsn);
  await io.syncDirectory(dir);
  await writeFileAtomically(io, dir, CUT_FILE, encodeCut({ ...cut, state: 'done' }));
  return later.length;
}

/**
 * Replaces the file at `path` by a copy of its first `length` bytes (`<path>.tmp`, fsync,
 * rename), never by truncating it in place where readers may map it (all but Windows): a reader that mapped the file (the Wal's
 * iterators, mmap-reader in another process) would fault on the pages a truncation took
 * away, and one reading through a descriptor sees the old bytes whole. The rename is made
 * durable by the directory fsync that follows.
 */
async function replaceWithPrefix(io: StorageIo, path: string, length: number): Promise<void> {
  const tmp = `${path}.tmp`;
  const from = await io.open(path, { readOnly: true });
  try {
    const to = await io.open(tmp, { create: true, truncate: true, mode: 0o600 });
    try {
      const chunk = Buffer.allocUnsafe(Math.min(length, COPY_CHUNK));
      for (let at = 0; at < length; at += chunk.length) {
        const part = chunk.subarray(0, Math.min(chunk.length, length - at));
        if ((await readFully(io, from, part, at)) !== part.length) {
          throw new WalError(
            WalErrorCode.CORRUPT,
            `${path} became shorter than ${length} bytes while a truncateAfter copied it; restore the log from a backup`,
            { details: { segment: path, offset: at } },
          );
        }
        await io.write(to, part, at);
      }
      await io.fsync(to);
    } finally {
      await io.close(to);
    }
  } finally {
    await io.close(from);
  }
  await io.rename(tmp, path);
}

const COPY_CHUNK = 1024 * 1024;

/**
 * Windows refuses a rename over a file any handle has open (EPERM, for as long as a reader of
 * this process or another keeps it), and the writer would be poisoned; but it lets a file be
 * shortened under handles opened as Node opens them, as long as nothing maps it, and no reader
 * maps a segment there (mmap-reader's addon is not built for Windows). So on Windows the kept
 * segment is cut in place (docs/decisions/0343).
 */
const CUT_IN_PLACE = process.platform === 'win32';

/**
 * Shortens the file at `path` to `length` bytes and makes that durable before the cut goes
 * on. Repeating it is harmless, as every step of a recorded cut must be.
 */
async function truncateInPlace(io: StorageIo, path: string, length: number): Promise<void> {
  const fd = await io.open(path);
  try {
    await io.truncate(fd, length);
    await io.fsync(fd);
  } finally {
    await io.close(fd);
  }
}

/**
 * HEAD names the kept segment. On a device too full for that, HEAD goes (absent means
 * nothing is known): a HEAD naming a deleted segment would keep the log from opening.
 */
async function lowerHead(io: StorageIo, dir: string, firstLsn: bigint): Promise<void> {
  try {
    await writeFileAtomically(io, dir, HEAD_FILE, encodeHead(firstLsn));
  } catch (error) {
    if (!isWalError(error, WalErrorCode.NO_SPACE)) throw error;
    await removeIfPresent(io, join(dir, HEAD_TMP_FILE));
    await removeIfPresent(io, join(dir, HEAD_FILE));
  }
}

/** At a writer's open, before recovery: finishes a cut a crash interrupted. */
export async function finishPendingCut(
  io: StorageIo,
  dir: string,
): Promise<{ cut: SuffixCut | null; finished: FinishedCut | null }> {
  const cut = await readCut(io, dir);
  if (cut === null || cut.state === 'done') return { cut, finished: null };
  const segmentsDeleted = await finishCut(io, dir, cut);
  return {
    cut: { ...cut, state: 'done' },
    finished: { afterLsn: cut.afterLsn, segmentsDeleted },
  };
}
