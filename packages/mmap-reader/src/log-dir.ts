import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import {
  CUT_FILE,
  decodeCut,
  decodeFileHeader,
  decodeFloor,
  decodeGaps,
  FILE_HEADER_SIZE,
  FLOOR_FILE,
  GAPS_FILE,
  ioErrorFromNode,
  isNotFound,
  type LsnGap,
  type SuffixCut,
  segmentFilesIn,
} from '@walnut/codec';

/**
 * The log's id (FORMAT.md, "Log id"): the header's of the newest segment in `segments`, or
 * undefined when it is version 1 or its header cannot be read (its reader reports that).
 */
export function logIdOf(segments: readonly SegmentFile[]): bigint | undefined {
  const newest = segments.at(-1);
  if (newest === undefined) return undefined;
  try {
    const fd = openSync(newest.path, 'r');
    try {
      const head = Buffer.alloc(FILE_HEADER_SIZE);
      if (readSync(fd, head, 0, FILE_HEADER_SIZE, 0) < FILE_HEADER_SIZE) return undefined;
      const header = decodeFileHeader(head, newest.path);
      return header.version >= 2 ? header.logId : undefined;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

export interface SegmentFile {
  firstLsn: bigint;
  path: string;
}

/** Segment files of a log directory in LSN order (other names, LOCK and FLOOR included, are ignored). */
export function listSegmentFiles(dir: string): SegmentFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw ioErrorFromNode(error, 'readdir', dir);
  }
  return segmentFilesIn(names).map(({ name, firstLsn }) => ({ firstLsn, path: join(dir, name) }));
}

/** The bytes of the small file `name` in `dir`, or null when there is none. */
function readLogFile(dir: string, name: string): { bytes: Buffer; path: string } | null {
  const path = join(dir, name);
  try {
    return { bytes: readFileSync(path), path };
  } catch (error) {
    if (isNotFound(error)) return null;
    throw ioErrorFromNode(error, 'read', path);
  }
}

/**
 * The retained floor from the directory's FLOOR file (FORMAT.md "Log directory"), or null
 * when there is none. WAL_CORRUPT when the file is damaged.
 */
export function readFloor(dir: string): bigint | null {
  const file = readLogFile(dir, FLOOR_FILE);
  return file === null ? null : decodeFloor(file.bytes, file.path);
}

/** The LSN ranges a salvage recorded as lost (the directory's GAPS file), none without one. */
export function readGaps(dir: string): LsnGap[] {
  const file = readLogFile(dir, GAPS_FILE);
  return file === null ? [] : decodeGaps(file.bytes, file.path);
}

/** The log's last suffix cut (the directory's CUT file), or null when it was never cut. */
export function readLastCut(dir: string): SuffixCut | null {
  const file = readLogFile(dir, CUT_FILE);
  return file === null ? null : decodeCut(file.bytes, file.path);
}
