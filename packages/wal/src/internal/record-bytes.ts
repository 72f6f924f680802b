import { badArgument, isBytes, type WalRecordInput } from '@walnut/codec';

/**
 * The payload and meta bytes of a `{ payload, meta?, … }` record, for the queue's bound and
 * a batch's size; WAL_BAD_ARGUMENT unless it is an object whose payload (and meta, when
 * set) are bytes. The codec checks the rest (type, routing ids) when it encodes the record.
 */
export function recordInputBytes(record: unknown): number {
  if (typeof record !== 'object' || record === null) {
    badArgument('record', 'an object { payload, meta?, type?, … }', record);
  }
  const { payload, meta } = record as WalRecordInput;
  if (!isBytes(payload)) badArgument('record.payload', 'a Buffer or Uint8Array', payload);
  if (meta !== undefined && !isBytes(meta)) {
    badArgument('record.meta', 'a Buffer, Uint8Array or undefined', meta);
  }
  return payload.length + (meta?.length ?? 0);
}
