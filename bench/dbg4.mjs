import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Wal } from '@walnut/wal';
rmSync('/tmp/probe/dbg4', { recursive: true, force: true });
const wal = await Wal.open('/tmp/probe/dbg4').durability('none').storageIo('io_uring').writebackAhead(0).build();
const p = Buffer.alloc(128, 1);
const t0 = performance.now();
let firstBlockedAt = -1;
for (let i = 0; i < 1000000; i++) { wal.append(p); if (firstBlockedAt < 0 && wal.stats().blockedAppends > 0) { firstBlockedAt = i; const s = wal.stats(); console.log('first block at', i, (performance.now()-t0).toFixed(0), 'ms', s.storage.writesInFlight, String(s.writtenLsn)); } if (i === 700000) { const t1 = performance.now(); while (performance.now() - t1 < 500) {} const s = wal.stats(); console.log('after 500ms spin (no reap)', s.storage.writesInFlight, String(s.writtenLsn)); } }
const s = wal.stats(); console.log('loop end', (performance.now()-t0).toFixed(0), s.storage.writesInFlight, String(s.writtenLsn));
await new Promise((r) => setImmediate(r));
const s2 = wal.stats(); console.log('after one turn', s2.storage.writesInFlight, String(s2.writtenLsn));
await wal.sync(); await wal.close();
