// #region guide
import { join } from 'node:path';
import { CoreWalWriter } from '@walnut/percore';
import { createStorageIo } from '@walnut/storage-io';
// #endregion guide

/** laminar-storage `CoreWalWriter` → `@walnut/percore` `CoreWalWriter` (docs/porting.md). */
export async function coreWalWriterExample(dir: string) {
  // #region guide
  const io = createStorageIo(); // the writer's own StorageIo: no (sio, fd) on each call
  const path = join(dir, 'wal-0.log');
  const writer = await CoreWalWriter.create(0, path, { io }); // refuses an existing file
  const end = writer.appendPut(Buffer.from('user:1'), Buffer.from('ada')); // END offset
  const afterPut = writer.position; // === end; the first entry starts at 64, after the header
  await writer.sync(); // fdatasync: syncedPosition === position now
  writer.setEpoch(1n); // bigint, and never backwards (WAL_BAD_ARGUMENT)
  writer.appendEpochBarrier();
  writer.appendCommit(new Map([['orders', 100n]]), 12_345n); // Map<string, bigint>

  // The StorageIo path: submit, then feed every completion batch to checkCompletions.
  writer.appendDeleteViaStorageIo(Buffer.from('user:1'));
  writer.syncViaStorageIo(); // returns the sync's token
  while (!writer.checkCompletions(await io.waitCompletions(1))) {}
  const synced = writer.syncedPosition;
  await writer.close();

  // Resume after a restart: validates up to `synced`, restores sequence and epoch.
  const resumed = await CoreWalWriter.openAt(0, path, synced, { io });
  const state = { sequence: resumed.sequence, epoch: resumed.epoch }; // 4n, 1n (not 0, 0)
  await resumed.close();
  await io.closeIo();
  // #endregion guide
  return { end, afterPut, synced, state };
}
