import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeFloor,
  decodeGaps,
  FLOOR_FILE,
  GAPS_FILE,
  type LsnGap,
  parseSegmentFileName,
} from '@walnut/codec';
import { ioError } from './errors.js';

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
    throw ioError(error, dir, 'list the log directory');
  }
  const segments: SegmentFile[] = [];
  for (const name of names) {
    const firstLsn = parseSegmentFileName(name);
    if (firstLsn !== null) segments.push({ firstLsn, path: join(dir, name) });
  }
  return segments.sort((a, b) => (a.firstLsn < b.firstLsn ? -1 : a.firstLsn > b.firstLsn ? 1 : 0));
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
    throw ioError(error, path, 'read');
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
    throw ioError(error, path, 'read');
  }
  return decodeGaps(bytes, path);
}
