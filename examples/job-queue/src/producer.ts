/**
 * The producer process: the queue's only writer. Appends `count` jobs (durably, a few at a
 * time) with retention by size, then keeps the log open — its retention runs as segments
 * are sealed — until every consumer's cursor has reached the last job, and prints
 * "produced <lsn>" per batch and "done <json>" with what retention deleted.
 * Usage: node --import tsx src/producer.ts <dir> <count> <consumer,consumer…>
 */
import { Wal } from '@walnut/wal';
import { encodeJob, RETENTION, SEGMENT_SIZE } from './jobs.js';

const [dir, countArg, consumersArg] = process.argv.slice(2);
const count = Number(countArg);
const consumers = consumersArg!.split(',');
setTimeout(() => process.exit(2), 120_000).unref();

const wal = await Wal.open(dir!).segmentSize(SEGMENT_SIZE).retention(RETENTION).build();
// The consumers' cursors exist before the first job, so retention never passes them.
for (const name of consumers) await (await wal.cursor(name)).close();
process.stdout.write('ready\n');

for (let id = 1; id <= count; id += 10) {
  const jobs = Array.from({ length: Math.min(10, count - id + 1) }, (_, i) =>
    encodeJob({
      id: id + i,
      kind: (id + i) % 3 === 0 ? 'email' : 'invoice',
      customer: `customer-${(id + i) % 97}`.padEnd(120, '.'),
    }),
  );
  const lsn = await wal.appendMany(jobs);
  process.stdout.write(`produced ${lsn}\n`);
  await new Promise((resolve) => setTimeout(resolve, 2));
}

const last = wal.lastLsn;
for (;;) {
  const cursors = await wal.cursors();
  if (consumers.every((name) => cursors.find((c) => c.name === name)?.lsn === last)) break;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await wal.applyRetention();
const retention = wal.stats().retention!;
const segments = await wal.segments();
const diskBytes = segments.reduce((sum, segment) => sum + segment.sizeBytes, 0);
process.stdout.write(
  `done ${JSON.stringify({
    lastLsn: String(last),
    floorLsn: String(wal.floorLsn),
    segmentsDeleted: retention.segmentsDeleted,
    bytesDeleted: retention.bytesDeleted,
    diskBytes,
    segments: segments.length,
  })}\n`,
);
await wal.shutdown();
