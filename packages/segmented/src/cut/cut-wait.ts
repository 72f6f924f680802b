import { join } from 'node:path';
import {
  CUT_FILE,
  CUT_POLL_MS,
  CUT_WAIT_MS,
  type SuffixCut,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { lockOwner, type StorageIo } from '@walnut/storage-io';
import { readCut } from './cut-after.js';

/**
 * Whether a writer may hold the log in `dir`: its lock's owner file names a process not
 * proven gone (one in another container or on another machine counts, as it cannot be ruled
 * out).
 */
export function writerMayBeWriting(dir: string): boolean {
  const owner = lockOwner(join(dir, 'LOCK'));
  return owner !== null && owner.state !== 'gone';
}

/**
 * The log's CUT file once no truncateAfter is under way: a reader beside a writer that is
 * cutting waits for the cut to finish (a pending cut's files are half cut), up to
 * CUT_WAIT_MS. `waitForCrashed` false: a pending cut whose writer is gone is refused at
 * once (a read-only open); true: waited for too, as a supervisor's next writer finishes it
 * (a reader already open). WAL_BAD_STATE when it does not finish, saying which it was.
 */
export async function settledCut(
  io: StorageIo,
  dir: string,
  waitForCrashed: boolean,
): Promise<SuffixCut | null> {
  const deadline = Date.now() + CUT_WAIT_MS;
  for (;;) {
    const cut = await readCut(io, dir);
    if (cut === null || cut.state === 'done') return cut;
    const alive = writerMayBeWriting(dir);
    if ((!alive && !waitForCrashed) || Date.now() >= deadline) throw unfinishedCut(dir, cut, alive);
    await new Promise((resolve) => setTimeout(resolve, CUT_POLL_MS));
  }
}

function unfinishedCut(dir: string, cut: SuffixCut, alive: boolean): WalError {
  const path = join(dir, CUT_FILE);
  const why = alive
    ? `a writer has been cutting the log for more than ${CUT_WAIT_MS / 1000} s (is it stopped?); try again once it is done`
    : 'the writer that was cutting the log is gone (it crashed or was killed while cutting). A read-only opener cannot finish the cut: open the log once without readOnly, which finishes it, then read again';
  return new WalError(
    WalErrorCode.BAD_STATE,
    `${path} records a truncateAfter(${cut.afterLsn}) that has not finished: ${why}`,
    { details: { lsn: cut.afterLsn } },
  );
}
