// #region guide
import { Batch, isWalError, Wal, WalErrorCode } from '@walnut/wal';
// #endregion guide

/** rewal `Wal` → `@walnut/wal` `Wal` (docs/porting.md). */
export async function rewalExample(dir: string) {
  // #region guide
  const wal = await Wal.open(dir).build(); // a directory of segments; durability 'sync'
  const first = await wal.append(Buffer.from('hello')); // 1n, resolved once on disk
  await wal.append(Buffer.from('user_created'), Buffer.from('aggregate:user:123')); // with meta
  const batch = new Batch().add(Buffer.from('event-1')); // chainable
  batch.add(Buffer.from('event-2'), Buffer.from('m')); // add_with_meta
  const last = await wal.appendBatch(batch); // 4n: the batch's last LSN, as in rewal

  const queued = wal.appendQueued(Buffer.from('no promise')); // 5n, returned at once
  const handedOut = wal.lastLsn; // 5n: the last LSN handed out (NOT rewal's last_lsn())
  const durable = wal.durableLsn; // 4n: rewal's last_lsn() — 5 is not on disk yet
  const synced = await wal.sync(); // 5n: flush() and sync() in one call

  const replayed: bigint[] = [];
  await wal.replay(1n, (record) => {
    replayed.push(record.lsn); // record.payload is a view: copy it only to keep it long
  });
  const iterated: string[] = [];
  for await (const record of wal.iterator(4n)) iterated.push(record.payload.toString()); // 4n, 5n

  await wal.shutdown(5_000); // milliseconds, not a Duration
  const refused = await wal.append(Buffer.from('late')).catch((error: unknown) => error);
  const closed = isWalError(refused, WalErrorCode.CLOSED); // rewal's Error::Closed
  // #endregion guide
  return { first, last, queued, handedOut, durable, synced, replayed, iterated, closed };
}
