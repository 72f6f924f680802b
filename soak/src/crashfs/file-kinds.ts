import type { CrashPoint } from './crash-fs.js';

/**
 * The kinds of file Walnut writes, by path as the crash file system reports it (relative to
 * the mount). A new kind of file is one line here; the soak counts power cuts per kind.
 */
const KINDS: readonly (readonly [RegExp, string])[] = [
  [/\/wal-\d+\.log\.lock\.pid(\.|$)/, 'core file lock owner file (wal-N.log.lock.pid)'],
  [/\/wal-\d+\.log\.lock$/, 'core file lock (wal-N.log.lock)'],
  [/(\/LOCK|\.lock)\.pid(\.|$)/, 'owner file (LOCK.pid, NAME.lock.pid)'],
  [/(\/LOCK|\.lock)$/, 'flock target (LOCK, NAME.lock)'],
  [/\/HEAD(\.tmp)?$/, 'HEAD'],
  [/\/FLOOR(\.tmp)?$/, 'FLOOR'],
  [/\/GAPS(\.tmp)?$/, 'GAPS'],
  [/\/spare-[0-9a-f]+\.tmp$/, 'spare segment'],
  [/\/\d+\.wal\.tmp$/, 'salvage run file'],
  [/\/\d+\.wal(\.dropped)?$/, 'segment'],
  [/\/MANIFEST(\.tmp)?$/, 'MANIFEST'],
  [/\/wal-\d+\.log(\.reclaim)?$/, 'core file'],
  [/\/REPLICATION(\.tmp)?$/, 'REPLICATION'],
  [/\/cursors\/.+\.cursor(\.tmp)?$/, 'cursor'],
  [/\/streams\.checkpoint(\.tmp)?$/, 'streams checkpoint'],
  [/\/streams\.rows\.[01](\.tmp)?$/, 'streams index rows'],
];

/** The kind of file a power cut struck, 'directory' for an entry change's fsync, or 'other'. */
export function fileKindOf(point: CrashPoint): string {
  if (point.operation === 'command') return 'after the step';
  if (point.operation === 'fsyncdir' || point.operation === 'mkdir') return 'directory';
  for (const [pattern, kind] of KINDS) if (pattern.test(point.path)) return kind;
  return `other (${point.path})`;
}
