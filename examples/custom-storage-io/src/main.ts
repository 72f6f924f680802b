/**
 * Runs a Wal on the latency-recording StorageIo plugin and prints what the disk did.
 * `pnpm --filter @walnut/example-custom-storage-io start`
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStorageIo } from '@walnut/storage-io';
import { Wal } from '@walnut/wal';
import { LatencyRecordingStorageIo } from './latency-storage-io.js';

const dir = await mkdtemp(join(tmpdir(), 'walnut-latency-io-'));
const io = new LatencyRecordingStorageIo(createStorageIo({ backend: 'auto' }));
const wal = await Wal.open(dir).storageIo(io).build();
console.log(`backend: ${wal.stats().backend.name} — ${wal.stats().backend.reason}\n`);

// 64 producers, each awaiting a durable append: group commit turns them into few fsyncs.
const perProducer = 500;
const payload = Buffer.alloc(256, 'x');
const started = performance.now();
await Promise.all(
  Array.from({ length: 64 }, async () => {
    for (let i = 0; i < perProducer; i++) await wal.append(payload);
  }),
);
const seconds = (performance.now() - started) / 1000;
const stats = wal.stats();
await wal.shutdown();
await io.closeIo();
await rm(dir, { recursive: true, force: true });

console.log(
  `${stats.records} durable appends in ${seconds.toFixed(2)} s, ${stats.syncs} fsyncs (${stats.recordsPerSync.toFixed(1)} records per fsync)\n`,
);
console.log('op          count      p50 µs      p99 µs      max µs');
for (const r of io.report()) {
  const cells = [r.count, r.p50Micros, r.p99Micros, r.maxMicros].map((n) =>
    Math.round(n).toString().padStart(10),
  );
  console.log(`${r.op.padEnd(10)}${cells.join('  ')}`);
}
