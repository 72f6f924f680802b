import { WalError, WalErrorCode } from '@walnut/codec';

/**
 * The payload bytes of `appendMany`'s list, for the queue's bound; WAL_BAD_ARGUMENT for
 * anything but a non-empty array of Uint8Arrays, checked before a waiting append copies it.
 * Sizes are checked by the engine, which appends none of the list when one is too large.
 */
export function payloadListBytes(payloads: readonly Uint8Array[]): number {
  if (!Array.isArray(payloads)) throw listError('an array', payloads);
  if (payloads.length === 0) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      'appendMany(payloads) got an empty array: skip the call when there is nothing to append',
    );
  }
  let bytes = 0;
  for (let i = 0; i < payloads.length; i++) {
    const payload = payloads[i];
    if (!(payload instanceof Uint8Array)) throw listError(`payloads[${i}] a Uint8Array`, payload);
    bytes += payload.length;
  }
  return bytes;
}

function listError(expected: string, got: unknown): WalError {
  const what = got === null ? 'null' : typeof got;
  return new WalError(
    WalErrorCode.BAD_ARGUMENT,
    `appendMany(payloads) takes an array of Buffers/Uint8Arrays; expected ${expected}, got ${what}`,
  );
}
