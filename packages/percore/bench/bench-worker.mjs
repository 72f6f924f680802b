// One benchmark core: waits for 'go', appends `entries` puts (16-byte keys, `valueSize`-byte
// values), fdatasyncs every `syncEvery` entries, and reports its own elapsed time.
import { workerData } from 'node:worker_threads';
import {
  CoreWalWriter,
  openHandedOffWriter,
  releaseCoreWriter,
  serveCoreWriter,
} from '@walnut/percore';
import { MemoryStorageIo, SyncFsStorageIo } from '@walnut/storage-io';

const { handoff, port, entries, syncEvery, valueSize, memory } = workerData;
// memory: the same write path into an in-memory file, to show what the CPU side scales to.
const memoryIo = memory ? new MemoryStorageIo() : null;
if (memoryIo) await memoryIo.mkdir('/bench');
const writer = memoryIo
  ? await CoreWalWriter.create(handoff.coreId, `/bench/wal-${handoff.coreId}.log`, { io: memoryIo })
  : await openHandedOffWriter(handoff, { io: new SyncFsStorageIo() });
const stopServing = serveCoreWriter(writer, port);
const key = Buffer.alloc(16);
const value = Buffer.alloc(valueSize, 0x5a);

port.on('message', async (message) => {
  if (message?.type !== 'bench:go') return;
  const start = process.hrtime.bigint();
  for (let i = 0; i < entries; i++) {
    key.writeUInt32LE(i, 0);
    writer.appendPut(key, value);
    if ((i + 1) % syncEvery === 0) await writer.sync();
  }
  await writer.sync();
  const elapsedNs = process.hrtime.bigint() - start;
  if (memoryIo) {
    stopServing();
    await writer.close();
  } else await releaseCoreWriter(writer, port, stopServing);
  port.postMessage({ type: 'bench:done', coreId: handoff.coreId, elapsedNs });
  port.close();
});
port.postMessage({ type: 'bench:ready', coreId: handoff.coreId });
