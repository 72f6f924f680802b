import { badArgument, WalError, WalErrorCode } from '../errors/errors.js';
import { MAX_U64 } from '../format/constants.js';
import { isBytes } from './bytes.js';

/** Throws WAL_BAD_ARGUMENT unless `value` is a bigint in 0..2^64-1. */
export function checkU64(name: string, value: unknown): asserts value is bigint {
  if (typeof value !== 'bigint' || value < 0n || value > MAX_U64)
    badArgument(name, 'a bigint in 0..2^64-1', value);
}

/** Throws WAL_BAD_ARGUMENT unless `value` is an integer in 0..max. */
export function checkUint(name: string, value: unknown, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max)
    badArgument(name, `an integer in 0..${max}`, value);
}

export function checkBytes(name: string, value: unknown): asserts value is Uint8Array {
  if (!isBytes(value)) badArgument(name, 'a Uint8Array or Buffer', value);
}

export function checkMaxSize(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    badArgument(name, 'a positive integer', value);
}

export function tooLarge(what: string, size: number, limit: number, advice: string): never {
  throw new WalError(
    WalErrorCode.RECORD_TOO_LARGE,
    `${what} is ${size} bytes, over the limit of ${limit} bytes; ${advice}`,
    { details: { size, limit } },
  );
}

/** WAL_CORRUPT for a body whose CRC matched but whose structure is invalid. */
export function malformed(reason: string): never {
  throw new WalError(WalErrorCode.CORRUPT, `malformed frame body: ${reason}`);
}
