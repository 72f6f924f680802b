// Runs N worker threads that each write their own core file, checkpoints from the main
// thread every --checkpoint-ms, and prints one JSON line per event. Run it again on the same
// directory (even after kill -9) and it recovers first, then continues.
//
//   node src/main.mjs --dir ./walnut-demo --workers 2 --entries 20000
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MessageChannel, Worker } from 'node:worker_threads';
import { MANIFEST_FILE, PerCoreWalManager } from '@walnut/percore';
import { SyncFsStorageIo } from '@walnut/storage-io';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: './walnut-demo' },
    workers: { type: 'string', default: '2' },
    entries: { type: 'string', default: '20000' }, // per worker; 0 = until killed
    'sync-every': { type: 'string', default: '100' },
    'checkpoint-ms': { type: 'string', default: '50' },
    'value-size': { type: 'string', default: '128' },
  },
});
const numCores = Number(values.workers);
const log = (event) =>
  process.stdout.write(
    `${JSON.stringify(event, (_, v) => (typeof v === 'bigint' ? String(v) : v))}\n`,
  );

const io = new SyncFsStorageIo();
const config = { baseDir: values.dir, numCores, io };
const resuming = existsSync(join(values.dir, MANIFEST_FILE));
const manager = resuming
  ? await PerCoreWalManager.open(config)
  : await PerCoreWalManager.create(config);
if (resuming) {
  const { entries, manifest, strayCores } = await manager.recover();
  // A real application would apply `entries` to the state its checkpoint restored.
  log({
    event: 'recovered',
    entries: entries.length,
    checkpoint: manifest.checkpointId,
    strayCores,
  });
}

const workers = [];
for (let coreId = 0; coreId < numCores; coreId++) {
  const { port1, port2 } = new MessageChannel();
  const handoff = await manager.handOff(coreId, port1);
  const worker = new Worker(new URL('./worker.mjs', import.meta.url), {
    workerData: {
      handoff,
      port: port2,
      syncEvery: Number(values['sync-every']),
      entries: Number(values.entries),
      valueSize: Number(values['value-size']),
    },
    transferList: [port2],
  });
  worker.on('message', (m) => {
    if (m.type === 'app:synced') log({ event: 'synced', coreId: m.coreId, sequence: m.sequence });
  });
  workers.push(
    new Promise((resolve, reject) => {
      worker.on('error', reject);
      worker.on('exit', resolve);
    }),
  );
}

let running = true;
const finished = Promise.all(workers).finally(() => {
  running = false;
});
while (running) {
  await new Promise((resolve) => setTimeout(resolve, Number(values['checkpoint-ms'])));
  if (!running) break;
  const manifest = await manager.checkpoint(manager.manifest.checkpointId + 1n);
  log({ event: 'checkpoint', checkpointId: manifest.checkpointId, epoch: manifest.epoch });
}
await finished;
await manager.close();
log({ event: 'done' });
