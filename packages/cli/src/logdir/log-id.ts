import { checkLogId, type FileHeader, isWalError } from '@walnut/codec';
import type { LsnFileState, SegmentFile } from './directory.js';
import { readFileHeader } from './file-header.js';

/**
 * The segment whose header names this log's id, as the library's open picks it: the one
 * HEAD names where it is there (a file newer than HEAD is the writer's next segment or a
 * stray, another log's say), else the newest.
 */
export function logIdSegment(files: readonly SegmentFile[], head: LsnFileState): number {
  const atHead = head.kind === 'valid' ? files.findIndex((f) => f.firstLsn === head.lsn) : -1;
  return atHead >= 0 ? atHead : files.length - 1;
}

/** This log's id (undefined for version 1 segments or an unreadable header). */
export async function logIdOf(
  files: readonly SegmentFile[],
  head: LsnFileState,
): Promise<bigint | undefined> {
  const file = files[logIdSegment(files, head)];
  const header: FileHeader | null = file === undefined ? null : await readFileHeader(file.path);
  return header !== null && header.version >= 2 ? header.logId : undefined;
}

/** Why the segment at `path` belongs to another log than `logId` (as the library refuses it), or null. */
export function anotherLogs(
  header: FileHeader,
  path: string,
  logId: bigint | undefined,
): string | null {
  try {
    checkLogId(header, path, logId);
    return null;
  } catch (error) {
    if (isWalError(error)) return error.message;
    throw error;
  }
}
