import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeFloor,
  decodeGaps,
  FLOOR_FILE,
  GAPS_FILE,
  ioErrorFromNode,
  type LsnGap,
  segmentFilesIn,
} from '@walnut/codec';

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
