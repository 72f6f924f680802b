import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeFileHeader,
  decodeFloor,
  decodeGaps,
  FILE_HEADER_SIZE,
  FLOOR_FILE,
  GAPS_FILE,
  ioErrorFromNode,
  type LsnGap,
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

/**
 * The retained floor from the directory's FLOOR file (FORMAT.md "Log directory"), or null
 * when there is none. WAL_CORRUPT when the file is damaged.
 */
export function readFloor(dir: string): bigint | null {
  const path = join(dir, FLOOR_FILE);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return null;
    throw ioErrorFromNode(error, 'read', path);
  }
  return decodeFloor(bytes, path);
}

/** The LSN ranges a salvage recorded as lost (the directory's GAPS file), none without one. */
export function readGaps(dir: string): LsnGap[] {
  const path = join(dir, GAPS_FILE);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return [];
    throw ioErrorFromNode(error, 'read', path);
  }
  return decodeGaps(bytes, path);
}
