import { describeValue, isBytes, WalError, WalErrorCode } from '@walnut/codec';
import { textAdvice } from '../refusals.js';

/**
 * The payload bytes of `appendMany`'s list, for the queue's bound; WAL_BAD_ARGUMENT for
 * anything but a non-empty array of Uint8Arrays, checked before a waiting append copies it.
 * Sizes are checked by the engine, which appends none of the list when one is too large.
 */
export function payloadListBytes(payloads: readonly Uint8Array[]): number {
  if (!Array.isArray(payloads)) {
    throw listError('payloads, an array', payloads, textAdvice(payloads) || listAdvice(payloads));
  }
  if (payloads.length === 0) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      'appendMany(payloads) got an empty array: skip the call when there is nothing to append',
    );
  }
  let bytes = 0;
  for (let i = 0; i < payloads.length; i++) {
    const payload = payloads[i];
    if (!isBytes(payload)) {
      throw listError(`payloads[${i}] a Uint8Array`, payload, textAdvice(payload));
    }
    bytes += payload.length;
  }
  return bytes;
}

function listError(expected: string, got: unknown, advice: string): WalError {
  return new WalError(
    WalErrorCode.BAD_ARGUMENT,
    `appendMany(payloads) takes an array of Buffers/Uint8Arrays; expected ${expected}, got ${describeValue(got)}${advice}`,
  );
}

/** One payload, or a Set, a generator or another iterable, where the array belongs. */
function listAdvice(got: unknown): string {
  if (isBytes(got)) return ' (for one payload call append(payload), or pass [payload])';
  const iterable =
    typeof got === 'object' &&
    got !== null &&
    typeof (got as Iterable<unknown>)[Symbol.iterator] === 'function';
  return iterable ? ' (spread an iterable into an array first: appendMany([...payloads]))' : '';
}
