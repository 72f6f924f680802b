// One worker thread = one core. It owns its writer (no locks on the write path), appends
// puts and deletes, syncs every `syncEvery` entries, tells the main thread what is durable,
// and answers the manager's checkpoint requests on `port` (serveCoreWriter).
import { parentPort, workerData } from 'node:worker_threads';
import { openHandedOffWriter, releaseCoreWriter, serveCoreWriter } from '@walnut/percore';
import { SyncFsStorageIo } from '@walnut/storage-io';

const { handoff, port, syncEvery, entries, valueSize } = workerData;
const writer = await openHandedOffWriter(handoff, { io: new SyncFsStorageIo() });
const stopServing = serveCoreWriter(writer, port);
const value = Buffer.alloc(valueSize, 0x61 + handoff.coreId);
let stopping = false;

port.on('message', (message) => {
  if (message?.type === 'app:stop') stopping = true;
});

for (let i = 0; !stopping && (entries === 0 || i < entries); i++) {
  // Keys carry the sequence the entry gets, so they stay unique across restarts.
  const key = Buffer.from(`core${handoff.coreId}-${writer.sequence + 1n}`);
  if (i % 4 === 3) writer.appendDelete(key);
  else writer.appendPut(key, value);
  if ((i + 1) % syncEvery === 0) {
    // Read the sequence before the await: a checkpoint request served while the sync runs
    // appends an epoch barrier that this sync does not cover.
    const covered = writer.sequence;
    await writer.sync();
    parentPort.postMessage({ type: 'app:synced', coreId: handoff.coreId, sequence: covered });
    // Give checkpoint requests a turn between batches.
    await new Promise((resolve) => setImmediate(resolve));
  }
}
const covered = writer.sequence;
await writer.sync();
parentPort.postMessage({ type: 'app:synced', coreId: handoff.coreId, sequence: covered });
// Hand the core back so the manager's later checkpoints cover it without this worker.
await releaseCoreWriter(writer, port, stopServing);
port.close();
