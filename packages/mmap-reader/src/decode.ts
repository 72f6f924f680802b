import { BodyKind, decodeRecordBody, type WalRecord } from '@walnut/codec';

/** Body bytes of a record without flags: kind, flags, type (u16), LSN (u64). */
const PLAIN_RECORD_HEADER = 12;

/**
 * Decodes the record body in `buf[start..end)` without first cutting a view of the body.
 *
 * @walnut/codec exports only `decodeRecordBody(body)`, which needs a view of the body —
 * one more Buffer per record, the largest single cost of replay on this hot path. The
 * common layout (no meta, no routing ids) is decoded here in place, into the same object
 * shape codec produces; anything else goes to codec. Delete this once codec exports an
 * offset-based `decodeRecordAt(buf, start, end)`.
 */
export function decodeRecordIn(buf: Buffer, start: number, end: number): WalRecord {
  if (buf[start + 1] !== 0 || end - start < PLAIN_RECORD_HEADER || buf[start] !== BodyKind.RECORD)
    return decodeRecordBody(buf.subarray(start, end));
  const lsn = buf.readBigUInt64LE(start + 4);
  // LSN 0 is malformed: codec's decoder raises the WAL_CORRUPT for it.
  if (lsn === 0n) return decodeRecordBody(buf.subarray(start, end));
  return {
    lsn,
    type: buf[start + 2]! | (buf[start + 3]! << 8),
    payload: buf.subarray(start + PLAIN_RECORD_HEADER, end),
    meta: undefined,
    tenantId: undefined,
    vshardId: undefined,
    databaseId: undefined,
  };
}
