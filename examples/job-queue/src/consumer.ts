/**
 * A consumer process: reads the queue through its own durable cursor, from a read-only
 * Wal (the producer holds the writer's lock), "runs" each job by appending its id to
 * `<outFile>`, then commits. Prints "start <lsn>" and "processed <lsn>" per job; stops
 * after `<lastLsn>`. Killed with SIGKILL between running a job and committing it, it runs
 * that job again when restarted: at least once, never a skipped job.
 * Usage: node --import tsx src/consumer.ts <dir> <name> <outFile> <lastLsn>
 */
import { appendFileSync } from 'node:fs';
import { Wal } from '@walnut/wal';
import { decodeJob } from './jobs.js';

const [dir, name, outFile, lastArg] = process.argv.slice(2);
const last = BigInt(lastArg!);
setTimeout(() => process.exit(2), 120_000).unref();

const wal = await Wal.open(dir!).readOnly().build();
const cursor = await wal.cursor(name!);
process.stdout.write(`start ${cursor.lsn}\n`);
if (cursor.lsn < last) {
  for await (const record of cursor.records()) {
    const job = decodeJob(record.payload);
    appendFileSync(outFile!, `${job.id}\n`);
    await cursor.commit(record.lsn);
    process.stdout.write(`processed ${record.lsn}\n`);
    if (record.lsn >= last) break;
  }
}
await wal.close();
