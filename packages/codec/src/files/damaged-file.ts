import { WalError, WalErrorCode } from '../errors/errors.js';

/**
 * `WAL_CORRUPT` for a small file of a log directory (FLOOR, HEAD, RETENTION, CUT, GAPS) whose
 * checksum or size is wrong: `why` says what was found, `rest` what the file holds and what
 * to do about it, since that differs from file to file.
 */
export function damagedFileError(path: string, why: string, rest: string): WalError {
  return new WalError(WalErrorCode.CORRUPT, `${path} is damaged (${why}); ${rest}`, {
    details: { segment: path, offset: 0 },
  });
}
