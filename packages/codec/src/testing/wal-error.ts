import { AssertionError } from 'node:assert';
import { isWalError, type WalError, type WalErrorCode } from '../errors/errors.js';

/**
 * Asserts that `run` throws, synchronously, or that `promise` rejects, with a `WalError`
 * of `code`, and returns that error for further checks. Anything else (no error, another
 * error, another code, a function that returns a promise instead of throwing) throws an
 * `AssertionError` naming what came instead. It needs no test runner.
 */
export function expectWalError(
  promise: PromiseLike<unknown>,
  code: WalErrorCode,
): Promise<WalError>;
export function expectWalError(run: () => unknown, code: WalErrorCode): WalError;
export function expectWalError(
  subject: PromiseLike<unknown> | (() => unknown),
  code: WalErrorCode,
): WalError | Promise<WalError> {
  if (typeof subject === 'function') {
    let outcome: unknown;
    try {
      outcome = subject();
    } catch (error) {
      return checked(error, code, 'threw');
    }
    // A rejection later is not a throw now: pass the promise itself to check it. That
    // rejection is this failure's, so it must not surface again as an unhandled one.
    if (outcome instanceof Promise) outcome.catch(() => {});
    throw missing(code, 'returned', outcome);
  }
  return Promise.resolve(subject).then(
    (value) => {
      throw missing(code, 'resolved', value);
    },
    (error: unknown) => checked(error, code, 'rejected'),
  );
}

function checked(error: unknown, code: WalErrorCode, how: string): WalError {
  if (isWalError(error, code)) return error;
  const got = isWalError(error)
    ? `a WalError ${error.code}: ${error.message}`
    : `${describe(error)} (not a WalError)`;
  throw new AssertionError({
    message: `expected a WalError ${code}, but it ${how} ${got}`,
    actual: isWalError(error) ? error.code : error,
    expected: code,
    operator: 'expectWalError',
  });
}

function missing(code: WalErrorCode, how: string, value: unknown): AssertionError {
  return new AssertionError({
    message: `expected a WalError ${code}, but it ${how} ${describe(value)}`,
    actual: value,
    expected: code,
    operator: 'expectWalError',
  });
}

function describe(value: unknown): string {
  if (value instanceof Promise) return 'a promise (pass the promise itself to expect a rejection)';
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
