import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { SegmentedWal } from '@walnut/segmented';
import { createStorageIo } from '@walnut/storage-io';
rmSync('/tmp/probe/dbg5', { recursive: true, force: true });
const io = createStorageIo({ backend: 'io_uring' });
const wal = await SegmentedWal.open({ dir: '/tmp/probe/dbg5', io, writebackAhead: 0 });
const p = Buffer.alloc(128, 1);
const t0 = performance.now();
for (let i = 0; i < 1000000; i++) {
  wal.appendPayload(p);
  if (i % 1000 === 0) wal.reapCompletions();
  if (i % 100000 === 0) { const s = wal.stats(); console.log(i, (performance.now()-t0).toFixed(0), s.writesInFlight, String(wal.writtenLsn), io.inFlight); }
}
await wal.sync(); await wal.close();
