import { CUT_FILE } from './cut-file.js';
import { parseSegmentFileName } from './file-header.js';
import { FLOOR_FILE, HEAD_FILE } from './lsn-files.js';
import { GAPS_FILE } from './lsn-gaps.js';

/**
 * What a directory listing says a directory is, for an opener that must not take over a
 * directory holding something else (FORMAT.md "Log directory"):
 * - `'log'`: it holds a segmented log (a segment, or a file only a log has: FLOOR, HEAD,
 *   GAPS, CUT);
 * - `'empty'`: nothing but what a writer creates before its first segment (the lock, and
 *   temporary files of an interrupted creation), so a log may be created there;
 * - `'other'`: files that belong to something else, listed in `others` (sorted).
 */
export interface LogDirectoryListing {
  kind: 'log' | 'empty' | 'other';
  others: string[];
}

const LOG_MARKERS = new Set([FLOOR_FILE, HEAD_FILE, GAPS_FILE, CUT_FILE]);

/** Names a writer may have left before its first segment was in place. */
function isBeforeFirstSegment(name: string): boolean {
  return (
    name === 'LOCK' ||
    name.startsWith('LOCK.pid') ||
    /^\d{20}\.wal\.tmp$/.test(name) ||
    /^spare-[0-9a-f]{16}\.tmp$/.test(name) ||
    (name.endsWith('.tmp') && LOG_MARKERS.has(name.slice(0, -4)))
  );
}

export function classifyLogDirectory(names: Iterable<string>): LogDirectoryListing {
  const others: string[] = [];
  for (const name of names) {
    if (parseSegmentFileName(name) !== null || LOG_MARKERS.has(name)) {
      return { kind: 'log', others: [] };
    }
    if (!isBeforeFirstSegment(name)) others.push(name);
  }
  return others.length === 0 ? { kind: 'empty', others } : { kind: 'other', others: others.sort() };
}
