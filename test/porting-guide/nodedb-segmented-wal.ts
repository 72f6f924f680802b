// #region guide
import { isWalError, WalErrorCode } from '@walnut/codec';
import { SegmentedWal } from '@walnut/segmented';
// #endregion guide

/** nodedb-wal `SegmentedWal` → `@walnut/segmented` `SegmentedWal` (docs/porting.md). */
export async function segmentedExample(dir: string) {
  // #region guide
  const wal = await SegmentedWal.open({ dir, segmentTargetSize: 4096 }); // async, locks dir
  // append(record_type, tenant_id, vshard_id, database_id, payload) becomes one object;
  // fields left out cost no bytes on disk and read back as undefined, not 0.
  const lsn = wal.append({ type: 1, tenantId: 7n, payload: Buffer.from('hello') }); // 1n
  for (let i = 0; i < 99; i++) wal.append({ payload: Buffer.alloc(100, i) });
  const durable = await wal.sync(); // 100n: resolves with durableLsn
  const next = wal.nextLsn; // 101n

  const page = await wal.replayFromLimit(lsn, 10); // { records, hasMore: true }
  const replayed: bigint[] = []; // replayFrom streams: an AsyncIterable, not a Vec
  for await (const record of wal.replayFrom(lsn)) replayed.push(record.lsn);

  const { segmentsDeleted } = await wal.truncateBefore(50n); // sealed segments below 50
  let belowFloor = false;
  try {
    wal.replayFrom(lsn); // LSN 1 is gone now: an error, never a shorter replay
  } catch (error) {
    belowFloor = isWalError(error, WalErrorCode.REPLAY_BELOW_FLOOR);
  }
  await wal.close(); // no fdatasync here: sync() first
  // #endregion guide
  return {
    lsn,
    durable,
    next,
    page,
    replayed,
    segmentsDeleted,
    floorLsn: wal.floorLsn,
    belowFloor,
  };
}
