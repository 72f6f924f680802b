import type { OpenedLog } from './open.js';
import type { ReaderRefresh } from './read/reader-refresh.js';
import { closedError } from './usage-errors.js';
import type { Parts } from './wiring.js';
import { writeCloseMark } from './write/durable-marks.js';
import { unwrittenAtClose } from './write/failures.js';
import type { TruncationQueue } from './write/truncation-queue.js';

/**
 * Waits until nothing the parts started is in flight: the writes, a rollback they caused,
 * segment creations, truncations, zero fills, the sync round and writebacks. For `close()`
 * and for `truncateAfter` before it cuts the files; the caller refuses new work first.
 */
export async function settleParts(parts: Parts, truncations: TruncationQueue): Promise<void> {
  await Promise.all(parts.pipeline.writes.map((w) => w.settled));
  if (parts.failures.rollback !== null) await parts.failures.rollback;
  await parts.segments.creationsDone();
  await truncations.idle();
  await parts.zeroFill?.idle();
  while (parts.rounds.active) await new Promise((r) => setImmediate(r));
  await parts.writeback?.idle();
}

/** What `closeLog` closes. */
export interface ClosingLog {
  readOnly: boolean;
  /** The parts now (a truncateAfter under way may build them anew while close waits). */
  parts(): Parts;
  truncations(): TruncationQueue;
  readerRefresh: ReaderRefresh | null;
  opened: OpenedLog;
  /** From here on the log refuses every call (once the buffer was handed on). */
  refuseCalls(): void;
}

/**
 * `close()`: writes out the buffer, lets every part settle, marks a cleanly closed
 * segment, closes the files and releases the lock and an owned StorageIo. Throws when
 * records appended before it never reached the file (a full disk).
 */
export async function closeLog(log: ClosingLog): Promise<void> {
  const { readOnly, opened } = log;
  const { pipeline: p, failures } = log.parts();
  const last = p.nextLsn - 1n;
  if (!readOnly && failures.poison === null && failures.rollback === null) {
    try {
      p.submitBuffer();
    } catch {
      // The StorageIo refused the write (closed under us): nothing more can be saved.
    }
  }
  log.refuseCalls();
  await log.readerRefresh?.settled();
  await settleParts(log.parts(), log.truncations());
  if (!readOnly && failures.poison === null && p.writtenLsn === last)
    await writeCloseMark(opened.io, log.parts().segments.active(), p.direct);
  // Records appended before close that a full disk kept out of the file: the caller may
  // have been told of them (a Wal under 'none'), so close says so. (A failed write poisons
  // the log instead, which says so itself.)
  const unwritten =
    !readOnly && failures.poison === null && p.writtenLsn < last
      ? unwrittenAtClose(p.writtenLsn + 1n, last, failures.rollbackError)
      : null;
  log.parts().rounds.rejectAll(closedError());
  await log.parts().segments.closeFiles();
  if (opened.lock !== null) await opened.lock.release().catch(() => {});
  if (opened.ownsIo) await opened.io.closeIo();
  if (unwritten !== null) throw unwritten;
}
