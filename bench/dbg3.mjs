import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Wal } from '@walnut/wal';
rmSync('/tmp/probe/dbg3', { recursive: true, force: true });
const wal = await Wal.open('/tmp/probe/dbg3').durability('none').storageIo('io_uring').writebackAhead(Number(process.env.WB ?? 8388608)).build();
const p = Buffer.alloc(128, 1);
const t0 = performance.now();
for (let i = 0; i < 1000000; i++) { wal.append(p); if (i % 100000 === 0) { const s = wal.stats(); console.log(i, (performance.now()-t0).toFixed(0), s.queueBytes, s.blockedAppends, String(s.writtenLsn), s.storage.writesInFlight, s.storage.writes); } }
await wal.sync(); console.log('total', (performance.now()-t0).toFixed(0)); await wal.close();
