import { isWalError } from '../src/errors/errors.js';

/** The WalError code `fn` throws, undefined when it returns, or a note of anything else it threw. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isWalError(err) ? err.code : `not a WalError: ${err}`;
  }
  return undefined;
}
