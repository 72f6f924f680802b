import { WalError, WalErrorCode } from '@walnut/codec';
import { Errno, ioErrorFromErrno } from '../contract/errors.js';

// The rules every writer on a StorageIo applies to its completions — segmented's write
// pipeline, the per-core writer, the portable log and the promise helper `write()` — so that
// a durability rule learned in one of them holds in all (docs/decisions/0214).

const { ECANCELED, EDQUOT, EIO, ENOSPC } = Errno;

/**
 * The short-write rule. A write that completes with fewer bytes than it asked for made
 * partial progress (the kernel reports a filling disk that way): the rest is sent again
 * from where it stopped, so the real outcome — success, or the ENOSPC or EIO behind it —
 * follows, and no hole is ever left or papered over.
 *
 * `done` bytes of the write's `length` were confirmed before this completion of `result`.
 * Returns the bytes confirmed now: `length` once whole, less when the rest must be sent
 * again. With O_DIRECT (`sector` > 1, the write starting on a sector) the rest restarts at
 * the sector the write stopped in, which is written again whole. A negative errno when the
 * write failed: the completion's own, or -EIO when it moved nothing (no byte, or not one
 * whole sector), which sent again would spin.
 */
export function writeProgress(result: number, done: number, length: number, sector = 1): number {
  if (result < 0) return result;
  const reached = done + result;
  if (reached >= length) return length;
  const kept = sector === 1 ? reached : reached - (reached % sector);
  return kept > done ? kept : -EIO;
}

/** The error of a write that `writeProgress` judged stalled: it moved nothing, and sent again would spin. */
export function stalledWriteError(path: string | undefined, offset: number): WalError {
  const where = path === undefined ? `at offset ${offset}` : `to ${path} at offset ${offset}`;
  return new WalError(
    WalErrorCode.IO,
    `a write ${where} made no progress (not one whole byte or sector written): check the file system and the device`,
    {
      details: {
        syscall: 'write',
        offset,
        errno: EIO,
        ...(path === undefined ? {} : { path }),
      },
    },
  );
}

/**
 * Whether a failed write's errno means the device is full (ENOSPC, or EDQUOT for a quota):
 * the bytes it held were not written and nothing else is known to be wrong, so a writer
 * may roll its unacknowledged records back instead of poisoning itself.
 */
export function isNoSpace(errno: number): boolean {
  const e = errno < 0 ? -errno : errno;
  return e === ENOSPC || e === EDQUOT;
}

/**
 * Whether an operation linked behind another was cancelled (-ECANCELED) rather than run:
 * the one before it was short or failed. A write or fdatasync cancelled behind a short
 * write did nothing and goes out again; behind a failure, the failure speaks for it.
 */
export function wasCancelled(result: number): boolean {
  return result === -ECANCELED;
}

/**
 * The rule for an fdatasync linked behind writes. True: it ran, and covers every write it
 * was linked behind. False: it was cancelled (-ECANCELED) because a write before it was
 * short or failed; nothing ran, so once that write is finished by resending its rest, the
 * writer syncs again. Any other failure throws: an fdatasync error consumes the file's
 * error state, a retry could succeed over lost pages, so the writer poisons itself with it.
 */
export function linkedSyncRan(result: number, path: string | undefined): boolean {
  if (result >= 0) return true;
  if (wasCancelled(result)) return false;
  throw ioErrorFromErrno(result, 'fdatasync', path);
}
