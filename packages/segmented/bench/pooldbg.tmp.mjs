import { MemoryStorageIo } from '@walnut/storage-io';
import { SegmentedWal } from '../dist/index.js';

const wal = await SegmentedWal.open({ dir: '/log', io: new MemoryStorageIo(), directIo: true });
for (let r = 0; r < 10; r++) {
  wal.append({ payload: Buffer.alloc(100) });
  await wal.sync();
}
console.log(wal.stats().bufferAllocations, wal.stats().directIo);
await wal.close();
