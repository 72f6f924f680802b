// One benchmark core: waits for 'go', appends `entries` puts (16-byte keys, `valueSize`-byte
// values), fdatasyncs every `syncEvery` entries, and reports its own elapsed time.
import { workerData } from 'node:worker_threads';
import { openHandedOffWriter, releaseCoreWriter, serveCoreWriter } from '@walnut/percore';
import { SyncFsStorageIo } from '@walnut/storage-io';

// syncEvery 0: one fdatasync at the end only (shows the write path without the journal).
const { handoff, port, entries, syncEvery, valueSize } = workerData;
const writer = await openHandedOffWriter(handoff, { io: new SyncFsStorageIo() });
const stopServing = serveCoreWriter(writer, port);
const key = Buffer.alloc(16);
const value = Buffer.alloc(valueSize, 0x5a);

port.on('message', async (message) => {
  if (message?.type !== 'bench:go') return;
  const start = process.hrtime.bigint();
  for (let i = 0; i < entries; i++) {
    key.writeUInt32LE(i, 0);
    writer.appendPut(key, value);
    if (syncEvery > 0 && (i + 1) % syncEvery === 0) await writer.sync();
  }
  await writer.sync();
  const elapsedNs = process.hrtime.bigint() - start;
  await releaseCoreWriter(writer, port, stopServing);
  port.postMessage({ type: 'bench:done', coreId: handoff.coreId, elapsedNs });
  port.close();
});
port.postMessage({ type: 'bench:ready', coreId: handoff.coreId });
