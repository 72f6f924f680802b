import type { WalRecord, WalRecordInput } from '@walnut/wal';

/** A batch's record as the shipper keeps it: its own copy, as the caller may reuse its buffers. */
export function copyRecord(record: WalRecordInput): WalRecordInput {
  return {
    ...record,
    payload: Buffer.from(record.payload),
    ...(record.meta !== undefined ? { meta: Buffer.from(record.meta) } : {}),
  };
}

/** A decoded record as an input to append: to ship (a replayed one) or to apply (a shipped one); its views stay valid while held. */
export function recordInput(r: WalRecord): WalRecordInput {
  return {
    payload: r.payload,
    ...(r.meta !== undefined ? { meta: r.meta } : {}),
    ...(r.type !== 0 ? { type: r.type } : {}),
    ...(r.tenantId !== undefined ? { tenantId: r.tenantId } : {}),
    ...(r.vshardId !== undefined ? { vshardId: r.vshardId } : {}),
    ...(r.databaseId !== undefined ? { databaseId: r.databaseId } : {}),
  };
}

/** Whether two records are the same: LSN, type, routing ids, payload and meta, byte for byte. */
export function sameRecord(a: WalRecord, b: WalRecord): boolean {
  return (
    a.lsn === b.lsn &&
    a.type === b.type &&
    Buffer.compare(a.payload, b.payload) === 0 &&
    Buffer.compare(a.meta ?? Buffer.alloc(0), b.meta ?? Buffer.alloc(0)) === 0 &&
    a.tenantId === b.tenantId &&
    a.vshardId === b.vshardId &&
    a.databaseId === b.databaseId
  );
}
